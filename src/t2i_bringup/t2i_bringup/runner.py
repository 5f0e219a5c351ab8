"""Starts one side of the graph in one process from the launch YAML files, for machines without
`ros2 launch` (this project's CI installs ROS 2 from PyPI wheels, which lack the launch packages).

    t2i_run edge   [--params launch/config/graph.yaml ...] [-- <extra ROS args>]
    t2i_run device ...
    t2i_run all    ...   (both sides in one process)

The nodes and parameter files are the same as in launch/*.launch.py; several nodes share one executor.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _edge_nodes() -> list:
    from edge_sr.edge_sr_node import EdgeSRNode
    from latent_partitioner.partitioner_node import PartitionerNode
    from t2i_controller.controller_node import ControllerNode
    from t2i_generator.generator_node import GeneratorNode
    from t2i_stitcher.stitcher_node import StitcherNode

    return [ControllerNode, GeneratorNode, PartitionerNode, EdgeSRNode,
            lambda: StitcherNode(name='fallback_stitcher')]


def _device_nodes() -> list:
    from device_sr.device_sr_node import DeviceSRNode
    from t2i_stitcher.stitcher_node import StitcherNode

    return [DeviceSRNode, StitcherNode]


SIDES = {'edge': _edge_nodes, 'device': _device_nodes, 'all': lambda: _edge_nodes() + _device_nodes()}


def default_params() -> list[Path]:
    """launch/config/graph.yaml of the checkout ($T2I_ROOT): one section per node, so every side reads it."""
    root = Path(os.environ.get('T2I_ROOT', Path.cwd()))
    return [root / 'launch' / 'config' / 'graph.yaml']


def main(argv: list[str] | None = None) -> None:
    from t2i_common.node_tools import run_nodes

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('side', choices=sorted(SIDES))
    parser.add_argument('--params', action='append', type=Path,
                        help='ROS 2 parameter YAML (repeatable; later files win). Default: launch/config/graph.yaml')
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index('--') if '--' in argv else len(argv)
    args, extra = parser.parse_args(argv[:split]), argv[split + 1:]
    params = args.params or default_params()
    for path in params:
        if not path.is_file():
            parser.error(f'parameter file not found: {path}')
    ros_args = ['--ros-args'] + [arg for path in params for arg in ('--params-file', str(path))]
    ros_args += extra[1:] if extra[:1] == ['--ros-args'] else extra
    run_nodes(SIDES[args.side](), args=['t2i_run', *ros_args])


if __name__ == '__main__':
    main()
