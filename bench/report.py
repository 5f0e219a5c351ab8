"""results/*.json -> results/REPORT.md + PNG plots under results/ (bench, not a test).

    python bench/report.py [--results results]

Reads trace_replay.json (measured runs through the real graph, bench/trace_replay.py), sr_quality.json
(bench/sr_quality.py) and simulation.json when present (another bench writes it; shown as found).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OURS = ('sa', 'exact', 'sa_gamma')
LABELS = {'sa': 'ours (SA)', 'exact': 'ours (exact)', 'sa_gamma': 'ours (SA, gamma optimised)', 'random': 'random',
          'no_sr': 'no SR', 'one_type': 'one type (S=2)', 'cogview3': 'CogView3-like (S=2, gamma=1)'}
MARKERS = {'sa': 'o', 'exact': 's', 'sa_gamma': 'D', 'random': 'x', 'no_sr': 'v', 'one_type': '^', 'cogview3': 'P'}


def fmt(value, digits=2, suffix=''):
    if value is None:
        return 'n/a'
    if isinstance(value, float):
        return f'{value:.{digits}f}{suffix}'
    return f'{value}{suffix}'


def table(header: list[str], rows: list[list]) -> str:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def per_target(records: list[dict]) -> dict:
    """{target: {policy: {latency, quality, utility, utility_measured}}} over ok records."""
    out: dict = {}
    for r in records:
        if r['status'] != 'ok':
            continue
        cell = out.setdefault(r['target'][0], {}).setdefault(r['policy'], [])
        cell.append(r)
    return {t: {p: {'latency': statistics.fmean(x['measured']['total'] for x in rs),
                    'predicted': statistics.fmean(x['predicted']['total'] for x in rs),
                    'quality': statistics.fmean(x['quality'] for x in rs),
                    'utility': statistics.fmean(x['utility'] for x in rs),
                    'utility_measured': statistics.fmean(x['utility_measured'] for x in rs), 'n': len(rs)}
                for p, rs in policies.items()} for t, policies in sorted(out.items())}


def plot_quality_latency(groups: dict, path: Path) -> None:
    targets = list(groups)
    fig, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets), 3.8), squeeze=False)
    for ax, target in zip(axes[0], targets):
        for policy, v in groups[target].items():
            ax.scatter(v['latency'], v['quality'], marker=MARKERS.get(policy, 'o'), s=70,
                       label=LABELS.get(policy, policy), edgecolors='k' if policy in OURS else None)
        ax.set_title(f'{target}x{target} px')
        ax.set_xlabel('measured end-to-end latency (s)')
        ax.set_ylabel('predicted quality Q')
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc='best')
    fig.suptitle('Quality vs measured latency per target resolution (real graph, 10 Mbit/s link)')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_utility(groups: dict, path: Path) -> None:
    targets = list(groups)
    policies = list(dict.fromkeys(p for g in groups.values() for p in g))
    width = 0.8 / max(1, len(policies))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, key, title in ((axes[0], 'utility', 'predicted utility (controller)'),
                           (axes[1], 'utility_measured', 'utility with the measured latency')):
        for i, policy in enumerate(policies):
            xs = [j + i * width for j in range(len(targets))]
            ys = [groups[t].get(policy, {}).get(key, float('nan')) for t in targets]
            ax.bar(xs, ys, width, label=LABELS.get(policy, policy))
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(targets))], [f'{t} px' for t in targets])
        ax.axhline(0, color='k', lw=0.6)
        ax.set_title(title)
        ax.set_ylabel('U = Q/Q_ref - lambda T/T_ref')
        ax.grid(axis='y', alpha=0.3)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_breakdown(summary_records: list[dict], path: Path) -> None:
    policies = list(dict.fromkeys(r['policy'] for r in summary_records))
    parts = [('t1', 'T1 generation'), ('t6', 'T6 SR stage'), ('other', 'other (decode, queue, stitch)')]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    bottoms = [0.0] * len(policies)
    for key, label in parts:
        values = [statistics.fmean(r['measured'][key] for r in summary_records if r['policy'] == p and r['status'] == 'ok')
                  for p in policies]
        axes[0].bar(range(len(policies)), values, bottom=bottoms, label=label)
        bottoms = [b + v for b, v in zip(bottoms, values)]
    predicted = [statistics.fmean(r['predicted']['total'] for r in summary_records if r['policy'] == p and r['status'] == 'ok')
                 for p in policies]
    axes[0].scatter(range(len(policies)), predicted, color='k', marker='_', s=400, label='predicted total', zorder=3)
    axes[0].set_xticks(range(len(policies)), policies, rotation=20)
    axes[0].set_ylabel('mean seconds')
    axes[0].set_title('Measured latency breakdown per policy')
    axes[0].legend(fontsize=7)
    for p in policies:
        rs = [r for r in summary_records if r['policy'] == p and r['status'] == 'ok']
        axes[1].scatter([r['predicted']['total'] for r in rs], [r['measured']['total'] for r in rs],
                        marker=MARKERS.get(p, 'o'), label=p)
    lim = max([r['measured']['total'] for r in summary_records if r['status'] == 'ok'] + [1.0])
    axes[1].plot([0, lim], [0, lim], 'k--', lw=0.8, label='y = x')
    axes[1].set_xlabel('predicted total (s)')
    axes[1].set_ylabel('measured total (s)')
    axes[1].set_title('Latency model: predicted vs measured')
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_ablations(ablations: dict, path: Path) -> bool:
    panels = [(ablations.get('edge_capacity', []), 'edge_capacity',
               'edge compute availability C1 (cgroup quota + controller parameter)',
               'Ablation: edge capacity (ours, SA)'),
              (ablations.get('gamma', []), 'gamma', 'foreground ratio gamma (policy one_type, S = 2)',
               'Ablation: gamma')]
    if not any(runs for runs, *_ in panels):
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, (runs, key, xlabel, title) in zip(axes, panels):
        if not runs:
            continue
        xs = [a[key] for a in runs]
        ax.plot(xs, [a['summary']['mean_latency_s'] for a in runs], 'o-', label='measured latency')
        ax.plot(xs, [a['summary']['mean_predicted_latency_s'] for a in runs], 's--', label='predicted latency')
        quality_axis = ax.twinx()
        quality_axis.plot(xs, [a['summary']['mean_quality'] for a in runs], 'd:', color='g', label='predicted Q')
        quality_axis.set_ylabel('Q', color='g')
        ax.set_xlabel(xlabel)
        ax.set_ylabel('mean latency (s)')
        ax.set_title(title)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def trace_section(doc: dict, results: Path, plots: list[str]) -> tuple[list[str], list[str]]:
    head, body = [], []
    summary, hl, meta = doc['summary'], doc['headline'], doc['meta']
    baselines = [b for b in ('random', 'no_sr', 'one_type', 'cogview3') if b in summary]
    if 'sa' in hl:
        lat, util = hl['sa']['latency_reduction_pct'], hl['sa']['utility_measured_improvement']
        head.append('### Headline (measured through the real graph, two emulated hosts, 10 Mbit/s)')
        head.append(f"- Ours (SA) mean end-to-end latency {fmt(summary['sa']['mean_latency_s'])} s over "
                    f"{summary['sa']['ok']} requests (K = {meta['k']}, targets {meta['targets']} px, lambdas "
                    f"{meta['lambdas']}, profile {meta['profile']}).")
        head.append('- Latency reduction of ours (SA): ' + ', '.join(
            f'{fmt(v, 1)} % vs {k}' for k, v in lat.items() if k != 'mean_of_baselines')
            + f"; **{fmt(lat.get('mean_of_baselines'), 1)} % vs the mean of the baselines**.")
        head.append('- Utility improvement of ours (SA), utility evaluated with the measured latency: ' + ', '.join(
            f'{v:+.3f} vs {k}' for k, v in util.items()) + ' (normalised utility, U = Q/Q_ref - lambda T/T_ref).')
        head.append(f"- Latency-model error (mean |predicted - measured| / measured, end-to-end incl. queueing): "
                    f"**{fmt(hl['latency_model_error_pct_all_policies'], 1)} %** over all policies; service time "
                    f"only (estimated queue wait removed): {fmt(hl['service_model_error_pct_all_policies'], 1)} %.")
        for ours in ('exact', 'sa_gamma'):
            if ours in hl:
                head.append(f"- {LABELS[ours]}: latency reduction vs mean of baselines "
                            f"{fmt(hl[ours]['latency_reduction_pct'].get('mean_of_baselines'), 1)} %, utility "
                            f"(measured) {hl[ours]['utility_measured_improvement'].get('mean_of_baselines', 0):+.3f} "
                            f"vs mean of baselines.")
    body.append('## Trace replay through the real graph (bench/trace_replay.py)')
    link = doc.get('link_check', {})
    body.append(f"Setup: {meta['setup']}; edge pinned to CPU {meta['edge_cpus']}, device to CPU {meta['device_cpus']}. "
                f"Link check: a {link.get('bytes', 0) / 2**20:.1f} MiB patch took {fmt(link.get('patch_latency_ms'), 0)} ms "
                f"(expected {fmt(link.get('expected_ms_at_rate'), 0)} ms at {link.get('link_rate')}; effective "
                f"{fmt(link.get('effective_mbit_s'))} Mbit/s). K = {meta['k']} requests per policy, open-loop arrivals "
                f"every {meta['spacing_s']} s, candidate D {meta['candidate_steps']}, same prompts/seeds/models for "
                f"every policy, graph restarted per policy.\n")
    rows = []
    for name, s in summary.items():
        rows.append([LABELS.get(name, name), f"{s['ok']}/{s['requests']}", fmt(s['mean_latency_s']),
                     fmt(s['median_latency_s']), fmt(s['mean_predicted_latency_s']), fmt(s['mean_queue_wait_s']),
                     fmt(s['mean_quality'], 3), fmt(s['mean_utility'], 3), fmt(s['mean_utility_measured'], 3),
                     fmt(s['latency_model_error_pct'], 1), fmt(s['service_model_error_pct'], 1)])
    body.append(table(['policy', 'ok', 'mean T (s)', 'median T (s)', 'predicted T (s)', 'queue wait (s)', 'Q',
                       'U (pred.)', 'U (meas.)', 'model err %', 'service err %'], rows))
    if hl:
        rows = []
        for ours in (o for o in OURS if o in hl):
            rows.append([LABELS[ours]] + [fmt(hl[ours]['latency_reduction_pct'].get(b), 1) + ' %'
                                          for b in [*baselines, 'mean_of_baselines']])
        body.append('\nLatency reduction (1 - mean T_ours / mean T_baseline):\n')
        body.append(table(['', *baselines, 'mean of baselines'], rows))
    groups = per_target(doc['records'])
    if groups:
        plot_quality_latency(groups, results / 'quality_vs_latency.png')
        plot_utility(groups, results / 'utility_per_resolution.png')
        plot_breakdown(doc['records'], results / 'latency_breakdown.png')
        plots += ['quality_vs_latency.png', 'utility_per_resolution.png', 'latency_breakdown.png']
        body.append('\n![quality vs latency](quality_vs_latency.png)\n\n![utility](utility_per_resolution.png)\n\n'
                    '![breakdown](latency_breakdown.png)')
        rows = []
        for target, g in groups.items():
            for policy, v in g.items():
                rows.append([f'{target}', LABELS.get(policy, policy), v['n'], fmt(v['latency']), fmt(v['predicted']),
                             fmt(v['quality'], 3), fmt(v['utility'], 3), fmt(v['utility_measured'], 3)])
        body.append('\nPer target resolution:\n')
        body.append(table(['target px', 'policy', 'n', 'mean T (s)', 'predicted T (s)', 'Q', 'U (pred.)', 'U (meas.)'],
                          rows))
    configs = {}
    for r in doc['records']:
        c = r['config']
        configs.setdefault(r['policy'], []).append(f"{r['target'][0]}/l{r['lambda']:g}: S{c['S']:g} D{c['D']} "
                                                   f"g{c['gamma']:g}")
    body.append('\nChosen configurations (target / lambda: S, D, gamma):\n')
    body += [f'- {p}: ' + '; '.join(v) for p, v in configs.items()]
    ab = doc.get('ablations', {})
    if plot_ablations(ab, results / 'ablations.png'):
        plots.append('ablations.png')
        body.append('\n### Ablations (closed loop, 2 requests for capacity, 1 for gamma; Fig. 8 style)\n')
        rows = [[f"C1 = {a['edge_capacity']:g}", fmt(a['summary']['mean_latency_s']),
                 fmt(a['summary']['mean_predicted_latency_s']), fmt(a['summary']['mean_quality'], 3),
                 '; '.join(f"S{r['config']['S']:g} D{r['config']['D']}" for r in a['records'])]
                for a in ab.get('edge_capacity', [])]
        rows += [[f"gamma = {a['gamma']:g}", fmt(a['summary']['mean_latency_s']),
                  fmt(a['summary']['mean_predicted_latency_s']), fmt(a['summary']['mean_quality'], 3),
                  '; '.join(f"S{r['config']['S']:g} D{r['config']['D']}" for r in a['records'])]
                 for a in ab.get('gamma', [])]
        body.append(table(['setting', 'measured T (s)', 'predicted T (s)', 'Q', 'configs'], rows))
        body.append('\n![ablations](ablations.png)')
    return head, body


def sr_section(doc: dict) -> tuple[list[str], list[str]]:
    s = doc['summary']
    head = []
    if 'hybrid' in s and 'all_heavy' in s:
        h, a, l = s['hybrid'], s['all_heavy'], s['all_light']
        head.append(f"- SR on real photos (x4, {len(doc['rows']) // 4} scikit-image crops): hybrid PSNR "
                    f"{fmt(h['psnr'])} dB / SSIM {fmt(h['ssim'], 3)} / BRISQUE {fmt(h['brisque'], 1)} at "
                    f"{fmt(100 * h['time_ratio_vs_heavy'], 0)} % of the all-heavy SR time; all-heavy {fmt(a['psnr'])} dB / "
                    f"{fmt(a['ssim'], 3)} / BRISQUE {fmt(a['brisque'], 1)}; all-light {fmt(l['psnr'])} dB / {fmt(l['ssim'], 3)} / "
                    f"BRISQUE {fmt(l['brisque'], 1)}; seam score hybrid {fmt(h['seam_score'], 3)} vs all-heavy "
                    f"{fmt(a['seam_score'], 3)}.")
    body = ['## SR quality on real photos (bench/sr_quality.py)', ''
            f"Crops of {doc['meta']['crop']} px, downscaled x4 (area) and upscaled x4; hybrid = top "
            f"{doc['meta']['gamma']:.0%} variance cells of a {doc['meta']['grid']}x{doc['meta']['grid']} grid by "
            f"Real-ESRGAN x4plus, the rest by realesr-compact, feathered stitch + {doc['meta']['colour_fix']} colour fix. "
            f"Torch threads: {doc['meta']['torch_threads']}. BRISQUE/PIQE: lower is better; seam score ~1 = no "
            f"visible seams; sharpness = gradient energy ratio to the original. The SR time of hybrid is close to "
            f"all-heavy on these small crops because every patch carries its overlap plus the back-end's 10 px tile "
            f"padding: 4 heavy patches of 32 px + 20 px padding are ~80 % of the pixels of one padded 96 px image; "
            f"the share falls with the image size (the heavy model's work scales with gamma only for large patches).", '']
    keys = ('psnr', 'ssim', 'sharpness_ratio', 'brisque', 'piqe', 'seam_score', 'sr_seconds', 'time_ratio_vs_heavy')
    body.append(table(['method', *keys], [[m, *(fmt(v.get(k), 3) for k in keys)] for m, v in s.items()]))
    body.append('\nPer image:\n')
    body.append(table(['image', 'method', *keys], [[r['image'], r['method'], *(fmt(r.get(k), 3) for k in keys)]
                                                  for r in doc['rows']]))
    return head, body


def export_records(doc: dict, results: Path) -> int:
    """The ok main-trace records in bench/README.md's "Measured request records" schema (for validate())."""
    out = []
    for r in doc['records']:
        if r['status'] != 'ok':
            continue
        m = r['measured']
        out.append({'request_id': r['request_id'], 'arrival_s': r['arrival_s'], 'user': r['index'],
                    'target': r['target'], 'lambda': r['lambda'], 'policy': r['policy'],
                    'config': {k: r['config'][k] for k in ('S', 'D', 'gamma')},
                    'measured': {**{k: m[k] for k in ('t1', 't2', 't3', 't4', 't5', 't6')},
                                 'total': r['client_latency_s']},
                    'edge_server': 0})
    (results / 'trace_replay_records.json').write_text(json.dumps(out, indent=1))
    meta = doc['meta']
    (results / 'trace_replay_records.meta.json').write_text(json.dumps({
        'profile': f"src/controller/profiles/{meta['profile']}.yaml", 'bandwidth_bps': 10e6,
        'edge_servers': 1, 'devices': 1, 'grid': 4, 'overlap_px': 16, 'background_encoding': 'raw',
        'availability': meta.get('availability', 1.0),
        'note': 'measured.t1 is generation + decode; measured.total = send -> result received; '
                'one device shared by all requests (user = request index)'}, indent=1))
    return len(out)


def validation_section(results: Path) -> list[str]:
    """The simulator (t2i_eval) replays the measured trace with the same configs and arrivals: its error against
    the measurement is the figure that says how far the simulation at scale can be trusted."""
    from t2i_controller.planner import resolve_profile
    from t2i_controller.problem import Resources
    from t2i_controller.profile import load_profile
    from t2i_eval.simulation import SystemSpec, validate

    records = json.loads((results / 'trace_replay_records.json').read_text())
    meta = json.loads((results / 'trace_replay_records.meta.json').read_text())
    availability = meta.get('availability', 1.0)
    profile = load_profile(resolve_profile(Path(meta['profile']).stem))
    resources = Resources(availability, availability, meta['bandwidth_bps'])
    rows = []
    for policy in sorted({r['policy'] for r in records}):
        report = validate([r for r in records if r['policy'] == policy], profile, resources,
                          SystemSpec(edge_servers=1, devices=1))
        rows.append([policy, len(report.rows), fmt(report.mean_abs_pct_error, 1), fmt(report.max_abs_pct_error, 1),
                     *(fmt(report.stage_mean_abs_pct_error.get(stage, math.nan), 1)
                       for stage in ('t1', 't2', 't3', 't6'))])
    return ['## Simulator validated against the measured trace', '',
            f't2i_eval.simulation.validate replays every measured request (same config, arrival, one shared '
            f'device and link, C1 = C2 = {availability:g}, {meta["bandwidth_bps"] / 1e6:g} Mbit/s) and compares '
            'simulated with measured latency (mean / max absolute % error; stage columns: the latency model vs '
            'the stage times measured in the nodes).', '',
            table(['policy', 'n', 'end-to-end MAPE %', 'max %', 'T1 %', 'T2 %', 'T3 %', 'T6 %'], rows)]


def simulation_section(doc: dict) -> list[str]:
    """Headline and per-resolution means of the SimPy simulation of the paper's setting (bench/simulate.py)."""
    setting = doc.get('setting', {})
    body = ['## Simulation of the paper\'s setting at scale (bench/simulate.py, results/simulation.json)', '',
            f"Profile `{setting.get('profile')}` (RTX 3080 Ti edge, Jetson AGX Orin device; sources in the file), "
            f"{setting.get('bandwidth_mbps')} Mbit/s, hybrid overhead {setting.get('hybrid_overhead_s')} s; "
            'means over every scenario (720P, 1080P, 1440P, 2K x K = 10 / 100 / 1,000 users x 1 / 2 / 4 edge '
            'servers).', '']
    headline = doc.get('headline', {})
    baselines = sorted({b for ours in headline.values() for b in ours.get('latency_reduction', {})})
    rows = [[f'{ours}: latency reduction', *(fmt(100 * v['latency_reduction'].get(b, math.nan), 1, ' %')
                                             for b in baselines)] for ours, v in headline.items()]
    rows += [[f'{ours}: utility improvement', *(fmt(100 * v['utility_improvement'].get(b, math.nan), 1, ' %')
                                                for b in baselines)] for ours, v in headline.items()]
    body += [table(['ours vs', *baselines], rows), '',
             'Utility improvements are relative to the baseline\'s utility, which is near zero or negative for '
             'several baselines: read the absolute U column below (and `utility_difference` in the JSON). With the '
             'assumed SDXL speed, generating at the target size is cheaper than diffusion SR at the paper\'s '
             '125.4 s per 512x512 input, so the exact solver picks S = 1 (= no_sr) nearly everywhere.', '']
    by_target: dict[tuple, list] = {}
    for scenario in doc.get('scenarios', []):
        for policy, summary in scenario['policies'].items():
            by_target.setdefault((scenario['target'], policy), []).append(summary)
    rows = [[target, policy, len(items), fmt(statistics.mean(i['latency_mean_s'] for i in items), 1),
             fmt(statistics.mean(i['latency_p95_s'] for i in items), 1),
             fmt(statistics.mean(i['quality_mean'] for i in items), 3),
             fmt(statistics.mean(i['utility_sim_mean'] for i in items), 3)]
            for (target, policy), items in by_target.items()]
    body.append(table(['target', 'policy', 'scenarios', 'mean T (s)', 'p95 T (s)', 'Q', 'U (simulated T)'], rows))
    return body


CAVEATS = [
    '### Caveats (read before quoting numbers)',
    '- 2-core CPU, edge pinned to core 0 and device to core 1; absolute latencies are this machine\'s, compare '
    'policies within one run. The controller models each side as half of the machine the cpu-tiny profile was '
    'measured on (edge_capacity = device_capacity = 0.5).',
    '- Tiny random-weight generator and upscaler: predicted quality Q comes from the quality model (a documented '
    'default table), not from images; the SR-quality section is the real-image evidence (real Real-ESRGAN '
    'weights).',
    '- K = 9 requests per policy; ablations use one request per setting.',
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--results', type=Path, default=ROOT / 'results')
    parser.add_argument('--trace', default='trace_replay.json')
    args = parser.parse_args(argv)
    results = args.results
    head, body, plots = [], [], []
    trace = results / args.trace
    if trace.is_file():
        trace_doc = json.loads(trace.read_text())
        h, b = trace_section(trace_doc, results, plots)
        if args.trace == 'trace_replay.json':
            export_records(trace_doc, results)
        head += h
        body += b + ['']
    sr = results / 'sr_quality.json'
    if sr.is_file():
        h, b = sr_section(json.loads(sr.read_text()))
        head += h
        body += b + ['']
    if (results / 'trace_replay_records.json').is_file():
        body += validation_section(results) + ['']
    sim = results / 'simulation.json'
    if sim.is_file():
        body += simulation_section(json.loads(sim.read_text())) + ['']
    text = ['# Evaluation report', '', 'Generated by bench/report.py from results/*.json.', '', *head, '', *CAVEATS, '', *body]
    (results / 'REPORT.md').write_text('\n'.join(text) + '\n')
    print(f'wrote {results / "REPORT.md"} and {plots}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
