"""Graph overhead per request: end-to-end latency minus the model compute measured inside the nodes.

    python bench/graph_overhead.py [--sizes 512 1024 2048] [--repeats 2] [--out results/graph_overhead.json]

Edge and device run as two processes on this machine (localhost DDS, shared-memory transport). One request at
a time (no queueing), fixed configuration S = 4, D = 8, gamma = 0.25, so only the output size changes.
Compute on the critical path = T1 (generation + decode) + max(T2, T3) (the two SR paths run in parallel);
overhead = total - that: serialisation, DDS transfer, partitioning, colour fix, stitching, scheduling.
Two set-ups: the tiny random-weight diffusion upscaler on the edge (tiny models: compute is small, so the
overhead share is large), and full-size SR networks with real weights (Real-ESRGAN x4plus on the edge,
compact on the device), where compute is what a deployment pays.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from t2i_bringup.client import GenerationClient, make_request
from t2i_bringup.processes import GraphProcesses

ROOT = Path(__file__).resolve().parents[1]
SETUPS = {
    'tiny-diffusion-sr': {},
    'full-size-sr': {'edge_sr': {'ros__parameters': {'backend': 'realesrgan'}}},
}


def params_file(folder: Path, name: str, extra: dict) -> Path:
    params = {'controller': {'ros__parameters': {'policy': 'exact', 'scales': [4.0], 'steps': [8],
                                                 'default_deadline_s': 1800.0}}, **extra}
    path = folder / f'{name}.yaml'
    path.write_text(yaml.safe_dump(params))
    return path


def measure(client: GenerationClient, size: int, seed: int) -> dict:
    started = time.monotonic()
    result = client.generate(f'overhead probe {seed}: a harbour at dawn', size, size, 0.5, seed=seed,
                             timeout_s=1800)
    wall = time.monotonic() - started
    m = result.measured
    compute = m.t1_generation + max(m.t2_edge_sr, m.t3_device_sr)
    return {'status': result.status, 'message': result.message, 'client_wall_s': wall, 'total_s': m.total,
            't1_s': m.t1_generation, 't2_s': m.t2_edge_sr, 't3_s': m.t3_device_sr, 't4_s': m.t4_edge_sr_transfer,
            't5_s': m.t5_background_transfer, 'compute_s': compute, 'overhead_s': m.total - compute,
            'overhead_share': (m.total - compute) / m.total if m.total else None, 'weights': list(result.weights)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', type=int, nargs='+', default=[512, 1024, 2048])
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--setups', nargs='+', default=list(SETUPS))
    parser.add_argument('--out', type=Path, default=ROOT / 'results' / 'graph_overhead.json')
    args = parser.parse_args()
    report = {'method': __doc__.strip().splitlines()[0], 'setups': {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.setups:
            with GraphProcesses(Path(tmp) / name, params=[params_file(Path(tmp), name, SETUPS[name])]), \
                    GenerationClient('overhead_bench') as client:
                assert client.wait_until_ready(600), 'graph did not come up'
                measure(client, 256, seed=999)  # warm-up: first calls pay one-off set-up costs
                rows = {}
                for size in args.sizes:
                    runs = [measure(client, size, seed) for seed in range(args.repeats)]
                    shares = [r['overhead_share'] for r in runs if r['status'] == 0]
                    rows[size] = {'runs': runs,
                                  'median_total_s': statistics.median(r['total_s'] for r in runs),
                                  'median_overhead_s': statistics.median(r['overhead_s'] for r in runs),
                                  'median_overhead_share': statistics.median(shares) if shares else None}
                    print(f'{name:18s} {size:5d} px  total {rows[size]["median_total_s"]:7.2f} s  overhead '
                          f'{rows[size]["median_overhead_s"]:6.2f} s  share {rows[size]["median_overhead_share"]}',
                          flush=True)
                report['setups'][name] = rows
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps({name: {size: row['median_overhead_share'] for size, row in rows.items()}
                      for name, rows in report['setups'].items()}))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
