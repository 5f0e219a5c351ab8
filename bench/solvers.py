"""Decision time and optimality gap of the config solvers for K = 1, 10, 100 concurrent requests.

Requests draw target sizes from 512 px to 2K; the shared edge and device budgets are a fraction of the
compute the requests would need at a typical config (S = 2, D = 20), so that the knapsack binds. Times are medians over repeats,
'cold' with a fresh model (tables built inside the timing), 'warm' with cached tables. The gap is
(exact - SA) / |exact| of the summed utility, over SA seeds; runs where SA found no feasible choice are
counted separately instead of being averaged in. JSON on stdout (and to --out).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from t2i_controller.problem import CandidateSpace, Config, Request
from t2i_controller.profile import load_profile
from t2i_controller.solvers import joint_exact, joint_sa
from t2i_controller.utility import UtilityModel

TARGETS = [(512, 512), (768, 768), (1024, 1024), (1024, 768), (1536, 1536), (2048, 2048)]


def _timed(run, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def bench_k(k: int, args: argparse.Namespace, profile) -> dict:
    rng = np.random.default_rng(k)
    requests = [Request(TARGETS[rng.integers(len(TARGETS))], request_id=f'r{i}') for i in range(k)]

    def new_model() -> UtilityModel:
        return UtilityModel(profile, space=CandidateSpace(), weight=args.weight, latency_bound_s=args.bound)

    model = new_model()
    typical = [model.evaluate(Config(2.0, 20, model.settings.foreground_ratio), r) for r in requests]
    edge_budget = args.budget_share * sum(d.latency.edge_seconds for d in typical)
    device_budget = args.budget_share * sum(d.latency.device_seconds for d in typical)
    cold_s, exact = _timed(lambda: joint_exact(requests, new_model(), edge_budget, device_budget), args.repeats)
    warm_s, _ = _timed(lambda: joint_exact(requests, model, edge_budget, device_budget), args.repeats)
    sa_times, gaps, sa_infeasible = [], [], 0
    for seed in range(args.sa_seeds):
        seconds, annealed = _timed(
            lambda: joint_sa(requests, model, np.random.default_rng(seed), edge_budget, device_budget), 1)
        sa_times.append(seconds)
        if annealed.status == 'infeasible':
            sa_infeasible += 1
        elif exact.status == 'optimal':
            gaps.append((exact.total_utility - annealed.total_utility) / abs(exact.total_utility))
    return {
        'k': k,
        'budgets_s': {'edge': round(edge_budget, 3), 'device': round(device_budget, 3)},
        'exact': {'status': exact.status, 'total_utility': exact.total_utility,
                  'median_time_ms_cold': 1e3 * cold_s, 'median_time_ms_warm': 1e3 * warm_s},
        'sa': {'median_time_ms': 1e3 * statistics.median(sa_times), 'seeds': args.sa_seeds,
               'infeasible_runs': sa_infeasible,
               'gap_median': statistics.median(gaps) if gaps else None,
               'gap_max': max(gaps) if gaps else None},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--ks', type=int, nargs='+', default=[1, 10, 100])
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--sa-seeds', type=int, default=5)
    parser.add_argument('--weight', type=float, default=0.5, help='lambda (normalised utility)')
    parser.add_argument('--bound', type=float, default=1200.0, help='latency bound L0 in seconds')
    parser.add_argument('--budget-share', type=float, default=0.6,
                        help='budgets as a share of the compute at S = 2, D = 20')
    parser.add_argument('--profile', type=Path, default=None)
    parser.add_argument('--out', type=Path, default=None)
    args = parser.parse_args(argv)
    profile = load_profile(args.profile) if args.profile else load_profile()
    report = {
        'profile': profile.name,
        'space': {'scales': list(CandidateSpace().scales), 'steps': [4, 50], 'ratios': list(CandidateSpace().ratios)},
        'settings': {k: v for k, v in vars(args).items() if k not in ('out', 'profile')},
        'results': [bench_k(k, args, profile) for k in args.ks],
    }
    text = json.dumps(report, indent=2, default=float)
    print(text)
    if args.out:
        args.out.write_text(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
