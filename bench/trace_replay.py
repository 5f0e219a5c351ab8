"""Measured trace replay through the REAL node graph in the emulated two-host setup (bench, not a test).

    python bench/trace_replay.py            # full run (~25 min on a 2-core CPU): results/trace_replay.json
    python bench/trace_replay.py --quick    # smoke run (~3-4 min): results/trace_replay_quick.json

Started outside a namespace, it re-executes itself under scripts/twohost_netns.sh (10 Mbit/s tbf link):
the edge side and this driver share the edge namespace, the device side runs in the device namespace;
edge pinned to core 0, device to core 1; DDS over UDP only (no shared memory), SUBNET discovery.

For every policy the graph is restarted with a parameter override file (temp dir) and the SAME trace is
replayed: PartiPrompts, fixed seeds, targets and lambdas cycled, open-loop arrivals every --spacing seconds.
Ablations (closed loop, fewer requests): edge compute availability (controller edge_capacity C1 AND a real
cgroup CPU quota of C1 x one core on the edge processes) and gamma (foreground_ratio with policy one_type,
whose S = 2 makes gamma matter; ours picks S = 1 on these tiny models, where gamma does nothing).
Schema and choices: bench/README.md ("Trace replay").
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAIN_POLICIES = [  # (run name, controller overrides)
    ('sa', {'policy': 'sa'}),
    ('exact', {'policy': 'exact'}),
    ('sa_gamma', {'policy': 'sa', 'optimise_foreground_ratio': True}),
    ('random', {'policy': 'random'}),
    ('no_sr', {'policy': 'no_sr'}),
    ('one_type', {'policy': 'one_type'}),
    ('cogview3', {'policy': 'cogview3'}),
]
OURS = ('sa', 'exact', 'sa_gamma')
BASELINES = ('random', 'no_sr', 'one_type', 'cogview3')
T_FIELDS = {'t1': 't1_generation', 't2': 't2_edge_sr', 't3': 't3_device_sr', 't4': 't4_edge_sr_transfer',
            't5': 't5_background_transfer', 't6': 't6_sr_stage'}


def profile_name() -> str:
    return 'cpu-tiny' if (ROOT / 'src/controller/profiles/cpu-tiny.yaml').is_file() else 'default-cpu'


def make_trace(count: int, targets: list[int], lambdas: list[float], spacing: float) -> list[dict]:
    from t2i_bringup.partiprompts import load_partiprompts

    rows = load_partiprompts(count)
    trace = []
    for i, row in enumerate(rows[:count]):
        # targets cycle fastest, lambdas change every len(targets) requests: every (target, lambda) pair mixes
        trace.append({'index': i, 'prompt': row['Prompt'], 'category': row.get('Category', ''),
                      'target': [targets[i % len(targets)]] * 2,
                      'lambda': lambdas[(i + i // len(targets)) % len(lambdas)], 'seed': 1000 + i,
                      'arrival_s': round(i * spacing, 3)})
    return trace


def write_params(folder: Path, name: str, controller: dict) -> Path:
    import yaml

    path = folder / f'{name}.yaml'
    path.write_text(yaml.safe_dump({'controller': {'ros__parameters': controller}}, sort_keys=False))
    return path


class EdgeQuota:
    """A cgroup-v1 CPU quota (fraction of one core) for the edge processes: makes the edge really slower."""

    def __init__(self, fraction: float):
        self.fraction = fraction
        self.path = Path(f'/sys/fs/cgroup/cpu/t2i_edge_{os.getpid()}_{int(fraction * 100)}')

    def __enter__(self) -> list[str]:
        self.path.mkdir(exist_ok=True)
        (self.path / 'cpu.cfs_period_us').write_text('100000')
        (self.path / 'cpu.cfs_quota_us').write_text(str(int(self.fraction * 100000)))
        return ['sh', '-c', f'echo $$ > {self.path}/cgroup.procs && exec "$@"', 'edge-quota']

    def __exit__(self, *exc) -> None:
        try:
            self.path.rmdir()
        except OSError:
            pass


def reference_latency(params: dict, target: list[int], weight: float) -> float:
    """T_ref of the normalised utility for this target (direct generation, S = 1, most steps)."""
    from t2i_controller.controller_node import PARAMETERS
    from t2i_controller.planner import Planner, PlannerSettings
    from t2i_controller.problem import Resources
    from t2i_controller.utility import UtilityModel

    p = {k: v.default for k, v in PARAMETERS.items()}
    p.update(params)
    s = PlannerSettings.from_parameters(p)
    planner = Planner(s)
    model = UtilityModel(planner.profile, Resources(s.edge_capacity, s.device_capacity, p['default_bandwidth_bps']),
                         s.pipeline, s.space, weight=weight, form=s.utility_form)
    return model.references(tuple(target))[1]


def replay(name: str, controller: dict, trace: list[dict], log_dir: Path, params_dir: Path, closed_loop: bool,
           edge_fraction: float | None = None, timeout_s: float = 1800.0) -> tuple[list[dict], dict]:
    from t2i_bringup.client import GenerationClient, latency_table, make_request
    from t2i_bringup.processes import GraphProcesses

    params = write_params(params_dir, name, controller)
    ns = shlex.split(os.environ['T2I_DEVICE_NS'])
    edge_cpus, device_cpus = os.environ.get('T2I_EDGE_CPUS', '0'), os.environ.get('T2I_DEVICE_CPUS', '1')
    quota = EdgeQuota(edge_fraction) if edge_fraction and edge_fraction < 1.0 else None
    quota_wrap = quota.__enter__() if quota else []
    wrap = {'edge': [*quota_wrap, 'taskset', '-c', edge_cpus],
            'device': [*ns, 'taskset', '-c', device_cpus]}
    records, info = [], {'run': name, 'controller': controller, 'edge_cpu_quota': edge_fraction}
    started = time.monotonic()
    try:
        with GraphProcesses(log_dir / name, params=[params], wrap=wrap) as graph, \
                GenerationClient('trace_' + re.sub(r'\W', '_', name), keep_partition_images=False) as client:
            if not client.wait_until_ready(300):
                raise RuntimeError(f'{name}: the graph did not come up (logs in {log_dir / name})')
            info['startup_s'] = round(time.monotonic() - started, 2)
            warm = client.generate_async(make_request('warm-up: a small red cube', 256, 256, 0.5, seed=1,
                                                      deadline_s=timeout_s, client_id='trace-warmup'))
            warm_result = warm.result(timeout=timeout_s)
            info['warmup'] = latency_table(warm_result)['status']
            t_refs = {}
            pending = []
            t0 = time.monotonic()
            for item in trace:
                if closed_loop:
                    for previous in pending:
                        previous['future'].result(timeout=timeout_s)
                    t_send = time.monotonic() - t0
                else:
                    time.sleep(max(0.0, item['arrival_s'] - (time.monotonic() - t0)))
                    t_send = time.monotonic() - t0
                marks: dict = {}

                def on_feedback(stage, progress, message, marks=marks):
                    if stage == 'generator' and 'first_generator_s' not in marks:
                        marks['first_generator_s'] = time.monotonic() - t0
                        marks['first_generator_progress'] = progress

                request = make_request(item['prompt'], *item['target'], item['lambda'], seed=item['seed'],
                                       deadline_s=timeout_s, client_id='trace')
                future = client.generate_async(request, on_feedback)
                entry = {'item': item, 'future': future, 'send_s': t_send, 'marks': marks}
                future.add_done_callback(lambda f, e=entry: e.__setitem__('done_s', time.monotonic() - t0))
                pending.append(entry)
            for entry in pending:
                result = entry['future'].result(timeout=timeout_s)
                table = latency_table(result)
                item = entry['item']
                key = (tuple(item['target']), item['lambda'])
                if key not in t_refs:
                    t_refs[key] = reference_latency(controller, item['target'], item['lambda'])
                records.append(make_record(name, item, table, entry, t_refs[key]))
            info['span_s'] = round(time.monotonic() - t0, 2)
            info['edge_alive_at_end'] = graph.alive('edge') and graph.alive('device')
    finally:
        if quota:
            quota.__exit__()
    info['wall_s'] = round(time.monotonic() - started, 2)
    return records, info


def make_record(name: str, item: dict, table: dict, entry: dict, t_ref: float) -> dict:
    config, measured, predicted = table['config'], table['measured_s'], table['predicted_s']
    marks = entry['marks']
    # queueing before the generator started this request: first generator feedback minus the send time,
    # less the share of generation already done at that feedback (T1 x progress)
    queue = None
    if 'first_generator_s' in marks:
        queue = max(0.0, marks['first_generator_s'] - entry['send_s']
                    - measured['t1_generation'] * marks['first_generator_progress'])
    m = {short: measured[full] for short, full in T_FIELDS.items()}
    m.update(other=measured['other'], total=measured['total'])
    p = {short: predicted[full] for short, full in T_FIELDS.items()}
    p['total'] = predicted['total']
    ok = table['status'] == 'ok'
    utility = config['utility']
    return {
        'policy': name, 'request_id': table['request_id'], 'index': item['index'], 'prompt': item['prompt'],
        'arrival_s': round(entry['send_s'], 3), 'target': item['target'], 'lambda': item['lambda'],
        'seed': item['seed'], 'status': table['status'], 'message': table['message'],
        'config': {'S': config['S'], 'D': config['D'], 'gamma': config['gamma'],
                   'generation': config['generation'], 'policy': config['policy'],
                   'device_available': config['device_available']},
        'measured': m, 'predicted': p, 'quality': config['predicted_quality'], 'utility': utility,
        # the same normalised utility with the measured instead of the predicted latency
        'utility_measured': round(utility + item['lambda'] * (p['total'] - m['total']) / t_ref, 4) if ok else None,
        't_ref': round(t_ref, 3),
        'queue_wait_s': None if queue is None else round(queue, 3),
        'client_latency_s': round(entry.get('done_s', float('nan')) - entry['send_s'], 3),
        'missing_patches': table['missing_patches'], 'weights': table['weights'],
    }


def mean(values):
    values = [v for v in values if v is not None]
    return round(statistics.fmean(values), 4) if values else None


def summarise(records: list[dict]) -> dict:
    out = {}
    for name in dict.fromkeys(r['policy'] for r in records):
        rs = [r for r in records if r['policy'] == name]
        ok = [r for r in rs if r['status'] == 'ok']
        totals = [r['measured']['total'] for r in ok]
        service = [r['measured']['total'] - (r['queue_wait_s'] or 0.0) for r in ok]
        out[name] = {
            'requests': len(rs), 'ok': len(ok),
            'mean_latency_s': mean(totals), 'median_latency_s': round(statistics.median(totals), 3) if totals else None,
            'mean_service_latency_s': mean(service),
            'mean_predicted_latency_s': mean([r['predicted']['total'] for r in ok]),
            'mean_quality': mean([r['quality'] for r in ok]),
            'mean_utility': mean([r['utility'] for r in ok]),
            'mean_utility_measured': mean([r['utility_measured'] for r in ok]),
            # latency model error: mean |predicted - measured| / measured, end-to-end (queueing included) and
            # service only (the estimated queue wait removed from the measured total)
            'latency_model_error_pct': mean([100 * abs(r['predicted']['total'] - r['measured']['total'])
                                             / r['measured']['total'] for r in ok]),
            'service_model_error_pct': mean([100 * abs(r['predicted']['total'] - s) / s
                                             for r, s in zip(ok, service) if s > 0]),
            'mean_queue_wait_s': mean([r['queue_wait_s'] for r in ok]),
        }
    return out


def headline(summary: dict) -> dict:
    """Latency reduction and utility improvement of each of ours vs each baseline and vs the baselines' mean."""
    base = [b for b in BASELINES if b in summary and summary[b]['mean_latency_s']]
    out = {}
    for ours in (o for o in OURS if o in summary and summary[o]['mean_latency_s']):
        o = summary[ours]
        row = {'latency_reduction_pct': {}, 'utility_improvement': {}, 'utility_measured_improvement': {}}
        for b in base:
            row['latency_reduction_pct'][b] = round(100 * (1 - o['mean_latency_s'] / summary[b]['mean_latency_s']), 1)
            row['utility_improvement'][b] = round(o['mean_utility'] - summary[b]['mean_utility'], 4)
            row['utility_measured_improvement'][b] = round(o['mean_utility_measured']
                                                          - summary[b]['mean_utility_measured'], 4)
        if base:
            mean_lat = statistics.fmean(summary[b]['mean_latency_s'] for b in base)
            row['latency_reduction_pct']['mean_of_baselines'] = round(100 * (1 - o['mean_latency_s'] / mean_lat), 1)
            row['utility_improvement']['mean_of_baselines'] = round(
                o['mean_utility'] - statistics.fmean(summary[b]['mean_utility'] for b in base), 4)
            row['utility_measured_improvement']['mean_of_baselines'] = round(
                o['mean_utility_measured'] - statistics.fmean(summary[b]['mean_utility_measured'] for b in base), 4)
        out[ours] = row
    all_ok = [s for s in summary.values() if s['latency_model_error_pct'] is not None]
    out['latency_model_error_pct_all_policies'] = mean([s['latency_model_error_pct'] for s in all_ok])
    out['service_model_error_pct_all_policies'] = mean([s['service_model_error_pct'] for s in all_ok])
    return out


def link_check(timeout_s: float = 60.0) -> dict:
    """A 4 MiB ImagePatch edge -> device over the shaped link (tests/exchange_peer.py on both ends)."""
    peer = ROOT / 'tests' / 'exchange_peer.py'
    ns = shlex.split(os.environ['T2I_DEVICE_NS'])
    sub = subprocess.Popen([*ns, 'taskset', '-c', os.environ.get('T2I_DEVICE_CPUS', '1'), sys.executable, str(peer),
                            'sub', '--timeout', str(timeout_s)], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    subprocess.run(['taskset', '-c', os.environ.get('T2I_EDGE_CPUS', '0'), sys.executable, str(peer), 'pub',
                    '--timeout', str(timeout_s)], stdout=subprocess.DEVNULL, check=False)
    report = json.loads(sub.communicate(timeout=timeout_s)[0].strip().splitlines()[-1])
    rate = os.environ.get('T2I_LINK_RATE', 'none')
    bits = report.get('bytes', 0) * 8
    report['link_rate'] = rate
    if rate.endswith('mbit') and report.get('ok'):
        report['expected_ms_at_rate'] = round(1000 * bits / (float(rate[:-4]) * 1e6), 1)
        report['effective_mbit_s'] = round(bits / (report['patch_latency_ms'] / 1000) / 1e6, 2)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--quick', action='store_true', help='smoke run: 3 requests, 3 policies, no ablations')
    parser.add_argument('--k', type=int, default=9, help='requests (users) in the trace')
    parser.add_argument('--targets', type=int, nargs='+', default=[256, 384, 512], help='square target sides')
    parser.add_argument('--lambdas', type=float, nargs='+', default=[0.2, 0.5, 0.8])
    parser.add_argument('--spacing', type=float, default=3.0, help='seconds between arrivals (open loop)')
    parser.add_argument('--steps', type=int, nargs='+', default=[4, 8, 12, 16, 20], help='candidate D')
    parser.add_argument('--policies', nargs='*', default=[name for name, _ in MAIN_POLICIES],
                        help='policies of the main trace (none: ablations only)')
    parser.add_argument('--no-ablations', action='store_true')
    parser.add_argument('--capacities', type=float, nargs='+', default=[1.0, 0.5, 0.25], help='ablation C1 values')
    parser.add_argument('--gammas', type=float, nargs='+', default=[0.0, 0.25, 0.5, 1.0], help='ablation gammas')
    parser.add_argument('--availability', type=float, default=0.5,
                        help='C1 = C2: share of the profiled machine each pinned side gets (1 of 2 cores)')
    parser.add_argument('--rate', default='10mbit', help='tbf rate of the link (or none)')
    parser.add_argument('--out', type=Path, default=None)
    parser.add_argument('--log-dir', type=Path, default=Path(tempfile.gettempdir()) / 't2i_trace_logs')
    args = parser.parse_args(argv)
    if args.quick:
        args.k, args.no_ablations = 3, True
        if args.policies == [name for name, _ in MAIN_POLICIES]:
            args.policies = ['sa', 'no_sr', 'one_type']
    out = args.out or ROOT / 'results' / ('trace_replay_quick.json' if args.quick else 'trace_replay.json')

    if 'T2I_DEVICE_NS' not in os.environ:  # enter the two-host emulation, then run this script again inside
        command = [str(ROOT / 'scripts' / 'twohost_netns.sh'), '--rate', args.rate, '--',
                   sys.executable, str(Path(__file__).resolve()), *(argv if argv is not None else sys.argv[1:])]
        return subprocess.call(command)

    bandwidth = float(args.rate[:-4]) * 1e6 if args.rate.endswith('mbit') else 100e6
    # each side is pinned to one of the two cores the profile was measured on: C1 = C2 = availability
    base = {'profile': profile_name(), 'default_bandwidth_bps': bandwidth, 'steps': args.steps,
            'default_deadline_s': 1800.0, 'edge_capacity': args.availability, 'device_capacity': args.availability}
    trace = make_trace(args.k, args.targets, args.lambdas, args.spacing)
    started = time.monotonic()
    doc = {'meta': {'started': time.strftime('%Y-%m-%d %H:%M:%S'), 'profile': base['profile'], 'link_rate': args.rate,
                    'k': args.k, 'targets': args.targets, 'lambdas': args.lambdas, 'spacing_s': args.spacing,
                    'candidate_steps': args.steps, 'availability': args.availability,
                    'edge_cpus': os.environ.get('T2I_EDGE_CPUS'),
                    'device_cpus': os.environ.get('T2I_DEVICE_CPUS'), 'quick': args.quick,
                    'setup': 'scripts/twohost_netns.sh: edge+driver in one private netns, device in another, '
                             'veth shaped with tbf both ways, DDS UDPv4 only, SUBNET discovery'},
           'trace': trace, 'runs': [], 'records': [], 'ablations': {'edge_capacity': [], 'gamma': []}}
    doc['link_check'] = link_check()
    print('link check:', json.dumps(doc['link_check']), flush=True)

    def save() -> None:
        doc['summary'] = summarise(doc['records'])
        doc['headline'] = headline(doc['summary'])
        doc['meta']['elapsed_s'] = round(time.monotonic() - started, 1)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=1))

    with tempfile.TemporaryDirectory(prefix='t2i_trace_params_') as tmp:
        params_dir = Path(tmp)
        overrides = dict(MAIN_POLICIES)
        for name in args.policies:
            records, info = replay(name, {**base, **overrides[name]}, trace, args.log_dir, params_dir,
                                   closed_loop=False)
            doc['records'] += records
            doc['runs'].append(info)
            save()
            s = doc['summary'][name]
            print(f'{name:9s} ok {s["ok"]}/{s["requests"]}  mean {s["mean_latency_s"]} s  median '
                  f'{s["median_latency_s"]} s  predicted {s["mean_predicted_latency_s"]} s  Q {s["mean_quality"]}  '
                  f'U {s["mean_utility"]}  err {s["latency_model_error_pct"]} %  ({info["wall_s"]} s)', flush=True)
        if not args.no_ablations:
            small = make_trace(1, [384], [0.5], 0.0)
            for fraction in args.capacities:
                name = f'sa_C1={fraction:g}'
                settings = {**base, 'policy': 'sa', 'edge_capacity': fraction * args.availability}
                records, info = replay(name, settings, small, args.log_dir, params_dir, closed_loop=True,
                                       edge_fraction=fraction)
                doc['ablations']['edge_capacity'].append({'edge_capacity': fraction, 'run': info,
                                                          'records': records, 'summary': summarise(records)[name]})
                save()
                print(name, json.dumps(summarise(records)[name]), flush=True)
            for gamma in args.gammas:
                name = f'one_type_gamma={gamma:g}'
                records, info = replay(name, {**base, 'policy': 'one_type', 'foreground_ratio': gamma},
                                       make_trace(1, [256], [0.5], 0.0),
                                       args.log_dir, params_dir, closed_loop=True)
                doc['ablations']['gamma'].append({'gamma': gamma, 'run': info, 'records': records,
                                                  'summary': summarise(records)[name]})
                save()
                print(name, json.dumps(summarise(records)[name]), flush=True)
    save()
    print(json.dumps(doc['headline'], indent=1))
    print(f'wrote {out} in {doc["meta"]["elapsed_s"]:.0f} s')
    return 0


if __name__ == '__main__':
    sys.path[:0] = [str(ROOT / 'bench')]
    raise SystemExit(main())
