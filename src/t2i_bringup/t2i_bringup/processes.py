"""Starts the edge and device sides as separate OS processes (what two machines would run), for the demo,
the end-to-end tests and the benchmarks. DDS stays on this host: the environment of scripts/env.sh is
inherited and ROS_AUTOMATIC_DISCOVERY_RANGE is forced to LOCALHOST unless the caller runs the sides in
their own network namespaces."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


class GraphProcesses:
    """`with GraphProcesses(log_dir) as graph:` runs `t2i_run device` and `t2i_run edge` until the block ends.

    `sides`: which sides to start; `params`: extra parameter files (later win); `wrap`: per-side command
    prefix, e.g. to enter a network namespace or pin CPU cores.
    """

    def __init__(self, log_dir: Path, sides: tuple[str, ...] = ('device', 'edge'), params: list[Path] = (),
                 wrap: dict[str, list[str]] | None = None, env: dict[str, str] | None = None):
        self.log_dir = Path(log_dir)
        self.sides = sides
        self.params = list(params)
        self.wrap = wrap or {}
        self.env = dict(os.environ if env is None else env)
        self.env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, side: str) -> subprocess.Popen:
        root = Path(self.env.get('T2I_ROOT', Path.cwd()))
        files = [root / 'launch' / 'config' / 'graph.yaml', *self.params]
        command = [sys.executable, '-m', 't2i_bringup.runner', side]
        for path in files:
            command += ['--params', str(path)]
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f'{side}.log', 'ab')
        process = subprocess.Popen([*self.wrap.get(side, []), *command], stdout=log, stderr=subprocess.STDOUT,
                                   env=self.env, start_new_session=True)
        self.processes[side] = process
        return process

    def kill(self, side: str, sig: int = signal.SIGKILL) -> None:
        """Ends a side abruptly (as a crashed or unplugged machine would) or politely with SIGINT."""
        process = self.processes.pop(side)
        os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def alive(self, side: str) -> bool:
        return side in self.processes and self.processes[side].poll() is None

    def __enter__(self) -> GraphProcesses:
        for side in self.sides:
            self.start(side)
        return self

    def __exit__(self, *exc) -> None:
        for side in list(self.processes):
            process = self.processes[side]
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)  # rclpy shuts down and frees its shared memory
        deadline = time.monotonic() + 15
        for side in list(self.processes):
            try:
                self.processes[side].wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill(side)
        self.processes.clear()
