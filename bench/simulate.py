"""Simulation at scale of the paper's setting: policies x target sizes x users x edge servers (t2i_eval.simulation).

Setting: profile src/t2i_eval/profiles/paper-rtx3080ti-orin.yaml (RTX 3080 Ti edge with SDXL + StableSR,
Jetson AGX Orin device with Real-ESRGAN; every number's source is in that file), a 10 Mbit/s edge->device
link, the paper's hybrid overhead (+8.3 s per SR request, from the profile's extensions; --no-overhead drops it),
the controller's default candidate space (S in {1, 1.5, 2, 3, 4}, D in 4..50, gamma = 0.25) and the
normalised utility U = Q/Q_ref - lambda * T/T_ref.

Targets: 720P = 1280x720, 1080P = 1920x1080, 1440P = 2560x1440, 2K = 2048x1080 (the DCI 2K container,
SMPTE 428-1 / DCI spec; not 2560x1440, which is listed as 1440P). Each run uses one target; every request
draws lambda uniformly from the mix (0.2, 0.5, 0.8).
Scenarios: K = 10, 100, 1000 users (one device and link each), 1, 2, 4 edge servers (capacity 1, JSQ).
Arrivals: Poisson; the total rate is set so that the HEAVIEST policy (largest mean edge work per request over
the lambda mix, usually cogview3) loads the edge servers to --load (default 0.8): loaded but stable for every
policy; the lighter policies then see less load. The same arrival sequence (same seed) is given to every
policy of a scenario (common random numbers). Requests per run: 300, or 2 per user when that is more.
Decisions are cached per (policy, target, lambda) -- valid because the resources do not change during a run
(exact and the step-tuned baselines are deterministic); SA is drawn from a pool of 32 annealing results per
key (the same distribution as running it per request); random draws per request.

Headline: for ours (sa, exact), the mean over scenarios of the latency reduction 1 - L_ours / L_baseline,
per baseline and against the baselines' mean latency; utility improvement (U_ours - U_base) / |U_base| with
the realised utility U_sim (simulated latency incl. queueing in place of T). Paper: -33 % latency, +25 % utility.
Writes results/simulation.json and prints a compact table.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from t2i_controller.problem import Resources
from t2i_controller.profile import parse_profile
from t2i_eval.simulation import (PAPER_PROFILE, DecisionCache, Simulator, SystemSpec, poisson_arrivals,
                                 profile_extensions, summarize)

TARGETS = {'720P': (1280, 720), '1080P': (1920, 1080), '1440P': (2560, 1440), '2K': (2048, 1080)}
POLICIES = ('sa', 'exact', 'random', 'no_sr', 'one_type', 'cogview3')
OURS = ('sa', 'exact')
BASELINES = ('random', 'no_sr', 'one_type', 'cogview3')
WEIGHTS = (0.2, 0.5, 0.8)


def load_profile_scaled(gen_scale: float):
    """The paper profile, with generation seconds multiplied by gen_scale (sensitivity to assumption A1)."""
    data = yaml.safe_load(PAPER_PROFILE.read_text())
    if gen_scale != 1.0:
        data = copy.deepcopy(data)
        data['generation']['seconds'] = [[v * gen_scale for v in row] for row in data['generation']['seconds']]
    return parse_profile(data, f'{PAPER_PROFILE} (generation x{gen_scale})')


def mean_edge_work(cache: DecisionCache, policy: str, target, rng) -> float:
    draws = 64 if policy in ('random', 'sa') else 1
    work = [cache.decide(policy, target, w, rng).latency.edge_seconds / cache.resources.edge_availability
            for w in WEIGHTS for _ in range(draws)]
    return float(np.mean(work))


def run(args: argparse.Namespace) -> dict:
    profile = load_profile_scaled(args.gen_scale)
    overhead = 0.0 if args.no_overhead else float(profile_extensions(PAPER_PROFILE).get('hybrid_overhead_s', 0.0))
    resources = Resources(bandwidth_bps=args.bandwidth_mbps * 1e6)
    cache = DecisionCache(profile, resources, sa_pool=args.sa_pool)
    scenarios = []
    for label, target in TARGETS.items():
        rng = np.random.default_rng(args.seed)
        work = {p: mean_edge_work(cache, p, target, rng) for p in POLICIES}
        heaviest = max(work, key=work.get)
        for users in args.users:
            for servers in args.servers:
                total_rate = args.load * servers / work[heaviest]
                requests = max(args.requests, 2 * users)
                arrivals = poisson_arrivals(users, total_rate / users, requests, [target], WEIGHTS,
                                            np.random.default_rng([args.seed, users, servers]))
                spec = SystemSpec(edge_servers=servers, hybrid_overhead_s=overhead)
                simulator = Simulator(profile, resources, spec, decisions=cache)
                per_policy = {}
                for policy in POLICIES:
                    records = simulator.run(arrivals, policy, np.random.default_rng([args.seed, 7]))
                    summary = summarize(records, servers)
                    summary['configs'] = _config_mix(records)
                    per_policy[policy] = summary
                scenarios.append({'target': label, 'size': list(target), 'users': users, 'edge_servers': servers,
                                  'requests': requests, 'total_rate_hz': total_rate, 'rate_basis': heaviest,
                                  'mean_edge_work_s': work, 'policies': per_policy})
    return {'setting': {'profile': str(PAPER_PROFILE.name), 'generation_scale': args.gen_scale,
                        'bandwidth_mbps': args.bandwidth_mbps, 'hybrid_overhead_s': overhead, 'load': args.load,
                        'weights': WEIGHTS, 'sa_pool': args.sa_pool, 'seed': args.seed,
                        'decisions_computed': cache.computed},
            'scenarios': scenarios, 'headline': headline(scenarios)}


def _config_mix(records) -> dict[str, int]:
    mix: dict[str, int] = {}
    for r in records:
        key = f'S{r.scale:g}/D{r.steps}/g{r.gamma:g}'
        mix[key] = mix.get(key, 0) + 1
    return dict(sorted(mix.items(), key=lambda kv: -kv[1])[:5])


def _reduction(ours: float, base: float) -> float:
    return 1.0 - ours / base


def _improvement(ours: float, base: float) -> float:
    return (ours - base) / abs(base) if base else float('nan')


def headline(scenarios: list[dict]) -> dict:
    out = {}
    for ours in OURS:
        lat = {b: [] for b in BASELINES + ('baselines_mean',)}
        util = {b: [] for b in BASELINES + ('baselines_mean',)}
        for s in scenarios:
            p = s['policies']
            for b in BASELINES:
                lat[b].append(_reduction(p[ours]['latency_mean_s'], p[b]['latency_mean_s']))
                util[b].append(_improvement(p[ours]['utility_sim_mean'], p[b]['utility_sim_mean']))
            lat['baselines_mean'].append(_reduction(
                p[ours]['latency_mean_s'], statistics.mean(p[b]['latency_mean_s'] for b in BASELINES)))
            util['baselines_mean'].append(_improvement(
                p[ours]['utility_sim_mean'], statistics.mean(p[b]['utility_sim_mean'] for b in BASELINES)))
        out[ours] = {'latency_reduction': {b: statistics.mean(v) for b, v in lat.items()},
                     'utility_improvement': {b: statistics.mean(v) for b, v in util.items()},
                     'utility_difference': {b: statistics.mean(
                         s['policies'][ours]['utility_sim_mean'] - s['policies'][b]['utility_sim_mean']
                         for s in scenarios) for b in BASELINES}}
    return out


def print_table(result: dict) -> None:
    scenarios = result['scenarios']
    print(f"setting: {result['setting']}")
    print(f"{'target':6} {'policy':9} {'lat_mean':>9} {'lat_p50':>8} {'lat_p95':>8} {'pred_T':>8} {'Q':>6} "
          f"{'U':>7} {'U_sim':>7} {'edge_util':>9}  main config   (mean over K x servers)")
    for label in TARGETS:
        rows = [s for s in scenarios if s['target'] == label]
        for policy in POLICIES:
            def avg(key):
                return statistics.mean(s['policies'][policy][key] for s in rows)
            mix = rows[0]['policies'][policy]['configs']
            print(f"{label:6} {policy:9} {avg('latency_mean_s'):9.1f} {avg('latency_p50_s'):8.1f} "
                  f"{avg('latency_p95_s'):8.1f} {avg('predicted_mean_s'):8.1f} {avg('quality_mean'):6.3f} "
                  f"{avg('utility_mean'):7.3f} {avg('utility_sim_mean'):7.3f} {avg('edge_utilisation'):9.2f}  "
                  f"{next(iter(mix))}")
    print('\nscaling (all targets): mean latency [s] by users x edge servers')
    for policy in POLICIES:
        cells = []
        for users in sorted({s['users'] for s in scenarios}):
            for servers in sorted({s['edge_servers'] for s in scenarios}):
                sel = [s['policies'][policy]['latency_mean_s'] for s in scenarios
                       if s['users'] == users and s['edge_servers'] == servers]
                cells.append(f'K{users}/E{servers}={statistics.mean(sel):.0f}')
        print(f'  {policy:9} ' + ' '.join(cells))
    print('\nheadline (mean over scenarios): latency reduction / utility improvement (U_sim) of ours vs')
    for ours, h in result['headline'].items():
        parts = [f"{b}: {100 * h['latency_reduction'][b]:+.0f}% / {100 * h['utility_improvement'][b]:+.0f}%"
                 for b in BASELINES + ('baselines_mean',)]
        print(f'  {ours:5} ' + ' | '.join(parts))
    print('  (paper: -33 % latency vs baselines, +25 % utility; reduction shown as a positive number)')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--users', type=int, nargs='+', default=[10, 100, 1000])
    parser.add_argument('--servers', type=int, nargs='+', default=[1, 2, 4])
    parser.add_argument('--requests', type=int, default=300)
    parser.add_argument('--load', type=float, default=0.8, help='edge utilisation of the heaviest policy')
    parser.add_argument('--bandwidth-mbps', type=float, default=10.0)
    parser.add_argument('--gen-scale', type=float, default=1.0, help='multiply generation seconds (sensitivity)')
    parser.add_argument('--no-overhead', action='store_true', help='drop the +8.3 s hybrid overhead')
    parser.add_argument('--sa-pool', type=int, default=32)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', type=Path, default=Path(__file__).resolve().parents[1] / 'results' / 'simulation.json')
    args = parser.parse_args(argv)
    start = time.perf_counter()
    result = run(args)
    result['setting']['runtime_s'] = time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print_table(result)
    print(f"\nwrote {args.out} in {result['setting']['runtime_s']:.0f} s")
    return 0


if __name__ == '__main__':
    sys.exit(main())
