"""t2i_generator node: generates the low-resolution latent of each configured request (edge)."""
from __future__ import annotations

from rclpy.node import Node
from t2i_common.conversions import array_to_bytes_fields
from t2i_common.node_tools import (
    MODEL_LOAD_LOCK,
    Param,
    SerialWorker,
    declare_parameters,
    expired,
    progress_message,
    report_failure,
    run_nodes,
)
from t2i_common.qos import DATA, PROGRESS, Topics
from t2i_interfaces.msg import GenerationConfig, GenerationResult, Latent, Progress

PARAMETERS = {
    'model': Param('tiny-sdxl', 'Default generator: a local diffusers directory, a model id in the HF cache, '
                                'or tiny-sdxl (random weights, for tests and the CPU demo).'),
    'device': Param('', 'torch device (cuda, cpu); empty picks cuda when present.'),
    'dtype': Param('', 'float32, bfloat16 or float16; empty uses the back-end default.'),
    'guidance_scale': Param(5.0, 'Classifier-free guidance scale (1.0 disables CFG and halves UNet cost).'),
    'preload': Param(True, 'Load the default model at start-up instead of on the first request.'),
}


class GeneratorNode(Node):
    def __init__(self):
        super().__init__('t2i_generator')
        self.params = declare_parameters(self, PARAMETERS)
        self._generators = {}
        self._latents = self.create_publisher(Latent, Topics.LATENTS, DATA)
        self._progress = self.create_publisher(Progress, Topics.PROGRESS, PROGRESS)
        self._results = self.create_publisher(GenerationResult, Topics.RESULTS, DATA)
        self._worker = SerialWorker(self, 'generation', self._generate)
        self.create_subscription(GenerationConfig, Topics.CONFIGS, self._worker.submit, DATA)
        if self.params['preload']:
            self._worker.submit(None)  # load in the background: the node answers discovery meanwhile

    def _generator(self, model: str):
        with MODEL_LOAD_LOCK:
            if model in self._generators:
                return self._generators[model]
            from t2i_generator.backend import load_generator  # torch/diffusers only when a model is needed
            self._generators[model] = load_generator(model, device=self.params['device'] or None,
                                                     dtype=self.params['dtype'] or None)
            self.get_logger().info(f'generator {model!r} loaded: {self._generators[model].weights}')
        return self._generators[model]

    def _generate(self, batch: list) -> None:
        config = batch[0]
        if config is None:  # preload, with one tiny generation: first calls pay one-off set-up costs
            self._generator(self.params['model']).generate('warm-up', 64, 64, 1, seed=0)
            return
        request = config.request
        if expired(config):
            return  # the controller has already answered with a timeout
        model = request.model or self.params['model']
        try:
            generator = self._generator(model)
        except Exception as error:  # missing weights, bad path: tell the requester, keep serving
            report_failure(self, self._results, config, f'generator model {model!r} could not be loaded: {error}')
            return

        def on_step(step: int, total: int) -> None:
            self._progress.publish(progress_message(self, request.request_id, 'generator', step / total,
                                                    f'denoising step {step}/{total}'))

        try:
            output = generator.generate(request.prompt, config.generation_width, config.generation_height,
                                        config.denoising_steps, seed=request.seed if request.use_seed else None,
                                        guidance_scale=self.params['guidance_scale'], progress=on_step)
        except Exception as error:
            report_failure(self, self._results, config, f'generation failed: {error}')
            return
        msg = Latent(config=config, generation_time_s=float(output.seconds), seed=int(output.seed),
                     weights=output.weights)
        msg.shape, msg.dtype, msg.data = array_to_bytes_fields(output.latent)
        msg.header.stamp = self.get_clock().now().to_msg()
        self._latents.publish(msg)
        self.get_logger().info(f'{request.request_id[:12]}: latent {list(msg.shape)} from '
                               f'{config.denoising_steps} steps in {output.seconds:.2f} s')


def main(args=None) -> None:
    run_nodes([GeneratorNode], args)
