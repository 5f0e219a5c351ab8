"""Discrete-event simulation (SimPy) of the end-edge T2I system at scale, and its validation hook.

The simulator is driven by the controller's own models (t2i_controller: profile, latency_table, quality,
UtilityModel, choose_config): every service time is the model's T1..T5 for the chosen config; what the
simulation adds is contention, i.e. queueing on shared edge servers, devices and links.

System (SystemSpec):
  * K users; each user's requests go to its device (one device per user by default, or `devices` shared
    devices, user u -> device u % devices) over that device's edge->device link.
  * `edge_servers` edge servers, each a simpy.Resource with `edge_capacity` concurrent jobs; a request is
    dispatched on arrival to one server by `server_choice`: 'jsq' (join the shortest queue: fewest requests
    queued + in service per slot; ties -> lowest index) or 'least_work' (least outstanding edge seconds).
  * Per request, with (T1..T5) from latency_table for its config and the simulator's Resources:
      edge:   hold one slot of the server for T1 (generate + decode); the background path starts at the end of T1;
              keep the slot for T2 (foreground diffusion SR), release, then send the foreground (T4) on the link.
      device: background patches over the link (T5), then learning-based SR on the device (T3, holds the device).
      The two paths run in parallel (T6 = max(T2 + T4, T3 + T5)); then `hybrid_overhead_s` (stitching, S > 1
      only; 0 by default, so that the controller's T is reproduced) ends the request.
    S = 1 (no SR): T1 on the edge, then the whole image over the link (T5).
    Zero-length stages take no resource (they never wait in a queue).
  * Link per device: link_sharing='fifo' (default) serialises all transfers to that device on one
    simpy.Resource (capacity 1), each at the full bandwidth B; 'none' lets transfers overlap, each at full B,
    which is the latency model's assumption. With one request in the system both give the model's T, unless
    the background transfer is still running when the foreground one starts (T5 > T2), where 'fifo' waits.
  * Arrivals: `poisson_arrivals` (per-user Poisson processes) or `trace_arrivals` (a fixed list); an Arrival
    may carry a fixed Config (replay), otherwise the named policy picks it with `choose_config`.

Decisions (DecisionCache): a UtilityModel per lambda (same profile, Resources, settings, space, form and L0
for every request of a run); a decision depends only on (policy, target size, lambda, Resources). Cached:
  * deterministic policies (exact, no_sr, one_type, cogview3, and anything else not listed below): one decision
    per (policy, target, lambda), computed once; valid because the resources are fixed for a run.
  * 'sa' (random start): by default run per request; with sa_pool=n a pool of n annealing results per key
    (seeds from the run's rng) is computed once and each request draws one uniformly: the same distribution
    of outcomes as running SA per request, sampled n times (the bench uses this to stay fast).
  * 'random': never cached (one draw per request).

Per-request output (RequestRecord): arrival, user, device, edge server, config, predicted T1..T6 and total
(the model's, without queueing), simulated end-to-end latency (queueing included), edge wait, Q, predicted
utility U (model T) and realised utility U_sim (the same form with the simulated latency in place of T).
`summarize` gives per policy: mean / p50 / p95 latency, mean Q, mean U and U_sim, throughput, utilisation.

Validation (`validate`): replays measured request records (schema below; bench/README.md documents it for
the bench that produces them) through the simulator with the SAME configs and arrival offsets, and reports
per request the relative error (simulated - measured) / measured of the end-to-end latency and the mean
absolute percentage error (MAPE); per-stage errors of the model's T1..T6 against the measured ones too.

Measured-record schema (a JSON list, one object per request; times in seconds):
  {
    "request_id": "r0007",                      # unique string
    "arrival_s": 12.5,                          # arrival offset from the start of the run (>= 0)
    "user": 0,                                  # optional (default 0): which device/link serves it
    "target": [1920, 1080],                     # final size [W, H]
    "lambda": 0.5,                              # the request's latency weight
    "policy": "sa",                             # optional: the policy that chose the config
    "config": {"S": 2.0, "D": 20, "gamma": 0.25},
    "measured": {"t1": .., "t2": .., "t3": .., "t4": .., "t5": .., "t6": .., "total": ..},
    "edge_server": 0                            # optional: the server that ran it (replayed as given)
  }
  measured.total is the end-to-end latency seen by the requester (queueing included); t1..t6 are the stage
  times excluding queueing, as the latency model defines them (any may be null when not measured).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import simpy
import yaml

from t2i_controller.baselines import choose_config
from t2i_controller.latency import LatencyBreakdown
from t2i_controller.problem import CandidateSpace, Config, PipelineSettings, Request, Resources
from t2i_controller.profile import Profile, load_profile
from t2i_controller.solvers import simulated_annealing
from t2i_controller.utility import Decision, UtilityModel

PROFILES_DIR = Path(__file__).resolve().parents[1] / 'profiles'
PAPER_PROFILE = PROFILES_DIR / 'paper-rtx3080ti-orin.yaml'
SERVER_CHOICES = ('jsq', 'least_work')
LINK_SHARING = ('fifo', 'none')
UNCACHED_POLICIES = ('random',)
POOLED_POLICIES = ('sa',)


def profile_extensions(path: str | Path) -> dict[str, Any]:
    """The `extensions:` block of a profile file (keys format v1 does not define, e.g. hybrid_overhead_s)."""
    data = yaml.safe_load(Path(path).read_text(encoding='utf-8'))
    extensions = data.get('extensions', {}) if isinstance(data, Mapping) else {}
    return dict(extensions) if isinstance(extensions, Mapping) else {}


def load_paper_profile() -> tuple[Profile, dict[str, Any]]:
    """The paper-setting profile and its extensions (hybrid_overhead_s)."""
    return load_profile(PAPER_PROFILE), profile_extensions(PAPER_PROFILE)


@dataclass(frozen=True)
class Arrival:
    time_s: float
    user: int
    target_size: tuple[int, int]
    weight: float  # lambda
    request_id: str = ''
    config: Config | None = None  # fixed config (replay); None: the policy chooses
    edge_server: int | None = None  # fixed server (replay); None: server_choice decides


@dataclass(frozen=True)
class SystemSpec:
    edge_servers: int = 1
    edge_capacity: int = 1  # concurrent jobs per edge server
    devices: int | None = None  # None: one device (and link) per user
    link_sharing: str = 'fifo'
    server_choice: str = 'jsq'
    hybrid_overhead_s: float = 0.0

    def __post_init__(self) -> None:
        if self.edge_servers < 1 or self.edge_capacity < 1 or (self.devices is not None and self.devices < 1):
            raise ValueError(f'need at least one edge server, slot and device: {self}')
        if self.link_sharing not in LINK_SHARING:
            raise ValueError(f'link_sharing must be one of {LINK_SHARING}, got {self.link_sharing!r}')
        if self.server_choice not in SERVER_CHOICES:
            raise ValueError(f'server_choice must be one of {SERVER_CHOICES}, got {self.server_choice!r}')
        if not self.hybrid_overhead_s >= 0:
            raise ValueError(f'hybrid_overhead_s must be >= 0, got {self.hybrid_overhead_s}')


@dataclass
class RequestRecord:
    request_id: str
    user: int
    device: int
    edge_server: int
    policy: str
    arrival_s: float
    target: tuple[int, int]
    weight: float
    scale: float
    steps: int
    gamma: float
    t1: float
    t2: float
    t3: float
    t4: float
    t5: float
    t6: float
    predicted_s: float  # the model's T (no queueing)
    quality: float
    utility: float  # with the model's T
    feasible: bool
    edge_start_s: float = math.nan
    finish_s: float = math.nan
    latency_s: float = math.nan  # simulated end-to-end, queueing included
    utility_sim: float = math.nan  # the same utility form with latency_s in place of T

    @property
    def edge_wait_s(self) -> float:
        return self.edge_start_s - self.arrival_s

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data['target'] = list(self.target)
        data['edge_wait_s'] = self.edge_wait_s
        return data


def poisson_arrivals(users: int, rate_per_user_hz: float, requests: int, targets: Sequence[tuple[int, int]],
                     weights: Sequence[float], rng: np.random.Generator) -> list[Arrival]:
    """`requests` arrivals in total from `users` independent Poisson processes of the same rate (their
    superposition: Poisson of rate users * rate, each arrival from a uniformly drawn user); target size and
    lambda drawn uniformly from the given lists. Sorted by time."""
    if users < 1 or requests < 0 or not rate_per_user_hz > 0:
        raise ValueError('need users >= 1, requests >= 0 and a positive rate')
    gaps = rng.exponential(1.0 / (users * rate_per_user_hz), requests)
    times = np.cumsum(gaps)
    who = rng.integers(users, size=requests)
    target_index = rng.integers(len(targets), size=requests)
    weight_index = rng.integers(len(weights), size=requests)
    return [Arrival(float(times[i]), int(who[i]), tuple(targets[target_index[i]]), float(weights[weight_index[i]]),
                    f'r{i:06d}') for i in range(requests)]


def trace_arrivals(rows: Iterable[Mapping[str, Any]]) -> list[Arrival]:
    """Arrivals from a fixed trace: mappings with arrival_s, target, lambda and optional user, request_id,
    config {S, D, gamma} and edge_server (the measured-record schema of the module docstring)."""
    arrivals = []
    for index, row in enumerate(rows):
        config = row.get('config')
        fixed = None if config is None else Config(float(config['S']), int(config['D']),
                                                   float(config.get('gamma', PipelineSettings().foreground_ratio)))
        server = row.get('edge_server')
        arrivals.append(Arrival(float(row['arrival_s']), int(row.get('user', 0)), tuple(int(v) for v in row['target']),
                                float(row['lambda']), str(row.get('request_id', f'r{index:06d}')), fixed,
                                None if server is None else int(server)))
    return sorted(arrivals, key=lambda a: a.time_s)


class DecisionCache:
    """Decisions by policy for (target size, lambda) under one set of Resources (module docstring)."""

    def __init__(self, profile: Profile, resources: Resources = Resources(),
                 settings: PipelineSettings = PipelineSettings(), space: CandidateSpace = CandidateSpace(),
                 form: str = 'normalised', latency_bound_s: float = math.inf, sa_pool: int = 0) -> None:
        self.profile, self.resources, self.settings, self.space = profile, resources, settings, space
        self.form, self.latency_bound_s, self.sa_pool = form, latency_bound_s, sa_pool
        self._models: dict[float, UtilityModel] = {}
        self._decisions: dict[tuple, Decision] = {}
        self._pools: dict[tuple, list[Decision]] = {}
        self.computed = 0  # policy calls actually made (cache misses)

    def model(self, weight: float) -> UtilityModel:
        if weight not in self._models:
            self._models[weight] = UtilityModel(self.profile, self.resources, self.settings, self.space, weight,
                                                self.form, self.latency_bound_s)
        return self._models[weight]

    def decide(self, policy: str, target: tuple[int, int], weight: float, rng: np.random.Generator,
               config: Config | None = None) -> Decision:
        model = self.model(weight)
        request = Request(tuple(target))
        if config is not None:
            return model.evaluate(config, request, 'fixed')
        key = (policy, tuple(target), weight)
        if policy in UNCACHED_POLICIES or (policy in POOLED_POLICIES and self.sa_pool <= 0):
            self.computed += 1
            return choose_config(policy, request, model, rng)
        if policy in POOLED_POLICIES:
            if key not in self._pools:
                seeds = rng.integers(2 ** 63, size=self.sa_pool)
                self._pools[key] = [simulated_annealing(request, model, np.random.default_rng(int(s))).decision
                                    for s in seeds]
                self.computed += self.sa_pool
            pool = self._pools[key]
            return pool[int(rng.integers(len(pool)))]
        if key not in self._decisions:
            self._decisions[key] = choose_config(policy, request, model, rng)
            self.computed += 1
        return self._decisions[key]

    def realised_utility(self, decision: Decision, target: tuple[int, int], weight: float, latency_s: float) -> float:
        """The utility form of the model with `latency_s` in place of the model's T."""
        model = self.model(weight)
        if model.form == 'raw':
            return decision.quality - weight * latency_s
        q_ref, t_ref = model.references(tuple(target))
        return decision.quality / q_ref - weight * latency_s / t_ref


class Simulator:
    """One SimPy run per call of `run`; the decision cache is kept across runs (same resources)."""

    def __init__(self, profile: Profile, resources: Resources = Resources(), spec: SystemSpec = SystemSpec(),
                 settings: PipelineSettings = PipelineSettings(), space: CandidateSpace = CandidateSpace(),
                 form: str = 'normalised', latency_bound_s: float = math.inf, sa_pool: int = 0,
                 decisions: DecisionCache | None = None) -> None:
        self.spec = spec
        self.decisions = decisions or DecisionCache(profile, resources, settings, space, form, latency_bound_s,
                                                    sa_pool)

    def run(self, arrivals: Sequence[Arrival], policy: str = 'exact', seed: int | np.random.Generator = 0
            ) -> list[RequestRecord]:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        spec = self.spec
        env = simpy.Environment()
        servers = [simpy.Resource(env, capacity=spec.edge_capacity) for _ in range(spec.edge_servers)]
        outstanding = [0.0] * spec.edge_servers  # edge seconds dispatched and not yet finished, per server
        in_system = [0] * spec.edge_servers  # requests dispatched and not yet through their edge work
        users = max((a.user for a in arrivals), default=0) + 1
        n_devices = users if spec.devices is None else spec.devices
        devices = [simpy.Resource(env, capacity=1) for _ in range(n_devices)]
        links = [simpy.Resource(env, capacity=1) for _ in range(n_devices)] if spec.link_sharing == 'fifo' else None
        records: list[RequestRecord] = []

        def pick_server() -> int:
            if spec.server_choice == 'least_work':
                return min(range(len(servers)), key=lambda i: (outstanding[i], i))
            # counted at dispatch, not from the Resource's queue: arrivals at the same instant see each other
            return min(range(len(servers)), key=lambda i: (in_system[i] / spec.edge_capacity, i))

        def hold(resource: simpy.Resource | None, seconds: float):
            if seconds <= 0:
                return
            if resource is None:
                yield env.timeout(seconds)
                return
            with resource.request() as slot:
                yield slot
                yield env.timeout(seconds)

        def background(record: RequestRecord, device: int):
            yield from hold(links[device] if links else None, record.t5)
            yield from hold(devices[device], record.t3)

        def serve(arrival: Arrival, record: RequestRecord, server: int, device: int):
            edge = servers[server]
            with edge.request() as slot:
                yield slot
                record.edge_start_s = env.now
                yield env.timeout(record.t1)
                back = env.process(background(record, device))
                if record.t2 > 0:
                    yield env.timeout(record.t2)
            outstanding[server] -= record.t1 + record.t2
            in_system[server] -= 1
            yield from hold(links[device] if links else None, record.t4)
            yield back
            if record.scale > 1 and spec.hybrid_overhead_s > 0:
                yield env.timeout(spec.hybrid_overhead_s)
            record.finish_s = env.now
            record.latency_s = env.now - arrival.time_s
            record.utility_sim = self.decisions.realised_utility(decision_of[record.request_id], record.target,
                                                                 record.weight, record.latency_s)

        decision_of: dict[str, Decision] = {}

        def source():
            for arrival in sorted(arrivals, key=lambda a: a.time_s):
                if arrival.time_s > env.now:
                    yield env.timeout(arrival.time_s - env.now)
                decision = self.decisions.decide(policy, arrival.target_size, arrival.weight, rng, arrival.config)
                latency: LatencyBreakdown = decision.latency
                server = pick_server() if arrival.edge_server is None else arrival.edge_server % len(servers)
                device = arrival.user % n_devices
                request_id = arrival.request_id or f'r{len(records):06d}'
                config = decision.config
                record = RequestRecord(
                    request_id, arrival.user, device, server, policy if arrival.config is None else 'fixed',
                    arrival.time_s, tuple(arrival.target_size), arrival.weight, config.scale, config.steps,
                    config.foreground_ratio, latency.t1, latency.t2, latency.t3, latency.t4, latency.t5, latency.t6,
                    latency.total, decision.quality, decision.utility, decision.feasible)
                decision_of[request_id] = decision
                outstanding[server] += record.t1 + record.t2
                in_system[server] += 1
                records.append(record)
                env.process(serve(arrival, record, server, device))

        env.process(source())
        env.run()
        return records


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else math.nan


def summarize(records: Sequence[RequestRecord], edge_servers: int = 1, edge_capacity: int = 1) -> dict[str, float]:
    """Summary of one run: latency (mean/p50/p95, s), mean predicted T, mean Q, U, U_sim, throughput (req/s
    from the first arrival to the last completion) and the mean edge utilisation over that span."""
    done = [r for r in records if not math.isnan(r.latency_s)]
    latency = np.array([r.latency_s for r in done])
    if not done:
        return {'requests': 0}
    span = max(r.finish_s for r in done) - min(r.arrival_s for r in done)
    edge_busy = sum(r.t1 + r.t2 for r in done)
    return {
        'requests': len(done),
        'latency_mean_s': float(latency.mean()),
        'latency_p50_s': _percentile(latency, 50),
        'latency_p95_s': _percentile(latency, 95),
        'predicted_mean_s': float(np.mean([r.predicted_s for r in done])),
        'edge_wait_mean_s': float(np.mean([r.edge_wait_s for r in done])),
        'quality_mean': float(np.mean([r.quality for r in done])),
        'utility_mean': float(np.mean([r.utility for r in done])),
        'utility_sim_mean': float(np.mean([r.utility_sim for r in done])),
        'feasible_share': float(np.mean([r.feasible for r in done])),
        'throughput_rps': len(done) / span if span > 0 else math.nan,
        'edge_utilisation': edge_busy / (span * edge_servers * edge_capacity) if span > 0 else math.nan,
    }


def simulate(arrivals: Sequence[Arrival], policy: str, profile: Profile, resources: Resources = Resources(),
             spec: SystemSpec = SystemSpec(), seed: int = 0, **model_options: Any
             ) -> tuple[list[RequestRecord], dict[str, float]]:
    """One run: per-request records and their summary."""
    records = Simulator(profile, resources, spec, **model_options).run(arrivals, policy, seed)
    return records, summarize(records, spec.edge_servers, spec.edge_capacity)


# ---------------------------------------------------------------- validation against measured records

STAGES = ('t1', 't2', 't3', 't4', 't5', 't6')


@dataclass
class ValidationReport:
    rows: list[dict[str, Any]] = field(default_factory=list)  # per request
    mean_abs_pct_error: float = math.nan  # simulated vs measured end-to-end latency
    max_abs_pct_error: float = math.nan
    stage_mean_abs_pct_error: dict[str, float] = field(default_factory=dict)  # model T1..T6 vs measured

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _relative_error(simulated: float, measured: float) -> float:
    if measured == 0:
        return 0.0 if simulated == 0 else math.inf
    return (simulated - measured) / measured


def validate(measured_records: Sequence[Mapping[str, Any]], profile: Profile, resources: Resources = Resources(),
             spec: SystemSpec = SystemSpec(), settings: PipelineSettings = PipelineSettings(),
             form: str = 'normalised') -> ValidationReport:
    """Replay measured records (schema in the module docstring) through the simulator with their configs,
    arrival offsets, users and (when given) edge servers; compare simulated vs measured end-to-end latency."""
    arrivals = trace_arrivals(measured_records)
    missing = [a.request_id for a in arrivals if a.config is None]
    if missing:
        raise ValueError(f'records without a config cannot be replayed: {missing[:5]}')
    ids = [a.request_id for a in arrivals]
    if len(set(ids)) != len(ids):
        raise ValueError('request_id values must be unique')
    records = {r.request_id: r for r in Simulator(profile, resources, spec, settings, form=form).run(arrivals, 'fixed')}
    report = ValidationReport()
    stage_errors: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for row in measured_records:
        record = records[str(row['request_id'])]
        measured = row.get('measured', {})
        total = float(measured['total'])
        error = _relative_error(record.latency_s, total)
        out = {'request_id': record.request_id, 'measured_s': total, 'simulated_s': record.latency_s,
               'predicted_s': record.predicted_s, 'rel_error': error}
        for stage in STAGES:
            value = measured.get(stage)
            if value is not None:
                stage_error = _relative_error(getattr(record, stage), float(value))
                out[f'{stage}_rel_error'] = stage_error
                if math.isfinite(stage_error):
                    stage_errors[stage].append(abs(stage_error))
        report.rows.append(out)
    errors = np.array([abs(r['rel_error']) for r in report.rows], float)
    if len(errors):
        report.mean_abs_pct_error = float(100 * errors.mean())
        report.max_abs_pct_error = float(100 * errors.max())
    report.stage_mean_abs_pct_error = {s: float(100 * np.mean(v)) for s, v in stage_errors.items() if v}
    return report


def records_to_measured(records: Sequence[RequestRecord]) -> list[dict[str, Any]]:
    """Simulated records in the measured-record schema (what a perfect measurement of the model would give)."""
    return [{
        'request_id': r.request_id, 'arrival_s': r.arrival_s, 'user': r.user, 'target': list(r.target),
        'lambda': r.weight, 'policy': r.policy, 'config': {'S': r.scale, 'D': r.steps, 'gamma': r.gamma},
        'measured': {**{stage: getattr(r, stage) for stage in STAGES}, 'total': r.latency_s},
        'edge_server': r.edge_server,
    } for r in records]
