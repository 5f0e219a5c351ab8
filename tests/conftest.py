"""Fixtures of the integration tests (helpers live in ros_testing.py)."""
import subprocess

import pytest

from ros_testing import ROOT


@pytest.fixture(scope='session')
def private_netns_available() -> bool:
    probe = subprocess.run(['bash', str(ROOT / 'scripts/netns_private.sh'), 'true'], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f'cannot create a private network namespace here: {probe.stderr.strip()[:200]}')
    return True
