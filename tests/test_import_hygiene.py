"""The device and the controller must not need torch or diffusers just to start: importing a stage package,
or a node module whose stage has no model, loads neither."""
import subprocess
import sys

import pytest

LIGHT_MODULES = [
    't2i_common', 't2i_common.conversions', 't2i_common.bandwidth', 't2i_common.node_tools',
    't2i_controller', 't2i_controller.controller_node', 't2i_controller.planner',
    't2i_stitcher', 't2i_stitcher.stitcher_node',
    'device_sr', 'device_sr.device_sr_node', 'device_sr.backend',
    'edge_sr', 'latent_partitioner', 'latent_partitioner.partition', 't2i_generator',
    't2i_bringup.client', 't2i_bringup.runner', 't2i_eval.simulation',
]


@pytest.mark.parametrize('module', LIGHT_MODULES)
def test_module_imports_without_torch_or_diffusers(module):
    probe = (f'import sys, {module}; heavy = [m for m in ("torch", "diffusers", "transformers") if m in sys.modules]; '
             'print(",".join(heavy))')
    done = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == '', f'{module} pulls in {done.stdout.strip()}'
