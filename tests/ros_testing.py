"""Helpers of the integration tests: every ROS process they start inherits the workspace environment,
whose DDS settings keep traffic on loopback (scripts/env.sh)."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ros_env(**overrides: str) -> dict:
    """The test process's environment with DDS pinned to this host, plus overrides (None removes a key)."""
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE=os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE',
                                                                       'LOCALHOST'))
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env
