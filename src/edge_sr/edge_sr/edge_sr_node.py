"""edge_sr node (edge): diffusion SR of foreground patches; when the device is gone it also upscales the
background patches, with a light back-end, so requests still complete."""
from __future__ import annotations

from device_sr.upscale_node import UpscaleNode
from t2i_common.node_tools import Param, run_nodes
from t2i_common.qos import Topics
from t2i_interfaces.msg import ImagePatch

PARAMETERS = {
    'backend': Param('diffusion-x4', 'Foreground SR back-end: diffusion-x4 (SD x4 upscaler), realesrgan '
                                     '(heavy Real-ESRGAN x4plus) or bicubic.'),
    'model': Param('tiny-x4-upscaler', 'Weights of the diffusion back-end: a local diffusers directory, a model id '
                                       'in the HF cache, or tiny-x4-upscaler (random weights).'),
    'steps': Param(20, 'Denoising steps of diffusion SR.'),
    'noise_level': Param(20, 'Noise added to the low-res patch by the x4 upscaler (higher: more invention).'),
    'guidance_scale': Param(1.0, 'Classifier-free guidance of diffusion SR (1.0 disables it, halving cost).'),
    'fallback_backend': Param('realesr-compact', 'Back-end for background patches when the device is gone: '
                                                 'a device back-end (realesr-compact, realesrgan-x4plus, bicubic).'),
}


class EdgeSRNode(UpscaleNode):
    stage = 'edge_sr'

    def __init__(self):
        super().__init__('edge_sr', Topics.FOREGROUND_PATCHES, PARAMETERS)
        self.backend(ImagePatch.ROLE_FOREGROUND)  # load at start-up, not on the first request

    def backend_for(self, role: int) -> tuple[str, dict]:
        common = {'device': self.params['device'] or None, 'dtype': self.params['dtype'] or None}
        if role == ImagePatch.ROLE_BACKGROUND:
            return self.params['fallback_backend'], {**common, 'tile': self.params['tile']}
        name = self.params['backend']
        if name == 'diffusion-x4':
            return name, {**common, 'model': self.params['model'], 'steps': self.params['steps'],
                          'noise_level': self.params['noise_level'],
                          'guidance_scale': self.params['guidance_scale']}
        return name, {**common, 'tile': self.params['tile']}

    def make_backend(self, name: str, options: dict):
        from device_sr.backend import SR_BACKEND_NAMES as DEVICE_BACKENDS
        if name in DEVICE_BACKENDS:  # the fallback for background patches: the device's own light models
            from device_sr.backend import make_sr_backend
        else:
            from edge_sr.backends import make_sr_backend
        return make_sr_backend(name, **options)

    def record_compute(self, patch: ImagePatch, seconds: float) -> None:
        patch.measured.t2_edge_sr = seconds


def main(args=None) -> None:
    run_nodes([EdgeSRNode], args)
