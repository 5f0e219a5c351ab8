"""Config choice for one request (exhaustive, simulated annealing) and for K concurrent requests.

The per-request space is tiny (|S| x |D| x |gamma|, a few hundred), so `exact_search` is the reference;
`simulated_annealing` is the paper's Algorithm 1, kept for comparison. For K requests sharing edge and device
compute, `joint_exact` solves the multiple-choice knapsack exactly (MILP, HiGHS) and `joint_sa` anneals
over the joint space the paper's way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from .problem import CandidateSpace, Request
from .utility import CandidateTable, Decision, UtilityModel


class InfeasibleError(RuntimeError):
    """No choice meets the latency limits or the shared capacity budgets."""


def _least_latency(table: CandidateTable, policy: str) -> Decision:
    index = int(np.argmin(table.latency.total))
    return table.decision(index, policy, f'no config meets the latency limit {table.latency_limit_s:.3g} s; '
                                         f'returning the fastest ({float(table.latency.total[index]):.3g} s)')


def exact_search(request: Request, model: UtilityModel, space: CandidateSpace | None = None,
                 policy: str = 'exact') -> Decision:
    """Best feasible config by enumeration (ties: the first in space order); the fastest one if none is."""
    table = model.table(request, space)
    if not table.feasible.any():
        return _least_latency(table, policy)
    return table.decision(int(np.argmax(np.where(table.feasible, table.utility, -np.inf))), policy)


@dataclass(frozen=True)
class AnnealingSchedule:
    initial_temperature: float = 1.0
    cooling: float = 0.9  # T <- cooling * T
    iterations_per_temperature: int = 10
    final_temperature: float = 1e-3

    def __post_init__(self) -> None:
        if not (self.initial_temperature > self.final_temperature > 0 and 0 < self.cooling < 1
                and self.iterations_per_temperature >= 1):
            raise ValueError(f'invalid annealing schedule {self}')


@dataclass(frozen=True)
class AnnealingResult:
    decision: Decision
    iterations: int
    accepted: int


def _neighbour(position: np.ndarray, shape: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """Move one variable (S, D or gamma, among those with a choice) to an adjacent value in its list."""
    movable = [axis for axis, size in enumerate(shape) if size > 1]
    moved = position.copy()
    if not movable:
        return moved
    axis = movable[rng.integers(len(movable))]
    step = rng.choice((-1, 1))
    if not 0 <= moved[axis] + step < shape[axis]:
        step = -step
    moved[axis] += step
    return moved


def simulated_annealing(request: Request, model: UtilityModel, rng: np.random.Generator,
                        schedule: AnnealingSchedule = AnnealingSchedule(), space: CandidateSpace | None = None,
                        policy: str = 'sa') -> AnnealingResult:
    """Algorithm 1: random start; per temperature a fixed number of neighbour moves with Metropolis acceptance
    exp(dU / T); moves to configs over the latency limit are rejected; cool until the final temperature."""
    space = space or model.space
    table = model.table(request, space)
    shape = space.shape
    position = np.array([rng.integers(n) for n in shape])
    current = int(np.ravel_multi_index(position, shape))
    best = current if table.feasible[current] else None
    temperature, iterations, accepted = schedule.initial_temperature, 0, 0
    while temperature > schedule.final_temperature:
        for _ in range(schedule.iterations_per_temperature):
            iterations += 1
            candidate_position = _neighbour(position, shape, rng)
            candidate = int(np.ravel_multi_index(candidate_position, shape))
            if not table.feasible[candidate]:
                continue
            gain = table.utility[candidate] - table.utility[current]
            if not table.feasible[current] or gain >= 0 or rng.random() < math.exp(gain / temperature):
                position, current = candidate_position, candidate
                accepted += 1
                if best is None or table.utility[current] > table.utility[best]:
                    best = current
        temperature *= schedule.cooling
    decision = _least_latency(table, policy) if best is None else table.decision(best, policy)
    return AnnealingResult(decision, iterations, accepted)


@dataclass(frozen=True)
class JointResult:
    status: str  # 'optimal', 'feasible' (heuristic, not proven optimal) or 'infeasible'
    decisions: list[Decision]  # one per request, empty when infeasible
    total_utility: float
    edge_seconds: float
    device_seconds: float
    message: str = ''


def _pareto_candidates(table: CandidateTable) -> np.ndarray:
    """Feasible configs not dominated in (higher utility, lower edge seconds, lower device seconds)."""
    index = np.flatnonzero(table.feasible)
    utility, edge, device = table.utility[index], table.latency.edge_seconds[index], table.latency.device_seconds[index]
    no_worse = ((utility[None, :] >= utility[:, None]) & (edge[None, :] <= edge[:, None])
                & (device[None, :] <= device[:, None]))
    better = ((utility[None, :] > utility[:, None]) | (edge[None, :] < edge[:, None])
              | (device[None, :] < device[:, None]))
    # Among exact duplicates keep the first, so that one survives.
    duplicate_before = no_worse & ~better & (np.arange(len(index))[None, :] < np.arange(len(index))[:, None])
    dominated = (no_worse & better).any(axis=1) | duplicate_before.any(axis=1)
    return index[~dominated]


def _joint_result(status: str, tables: Sequence[CandidateTable], choice: Sequence[int], policy: str,
                  message: str = '') -> JointResult:
    decisions = [table.decision(i, policy) for table, i in zip(tables, choice)]
    return JointResult(status, decisions, float(sum(d.utility for d in decisions)),
                       float(sum(d.latency.edge_seconds for d in decisions)),
                       float(sum(d.latency.device_seconds for d in decisions)), message)


def _infeasible(message: str) -> JointResult:
    return JointResult('infeasible', [], -math.inf, 0.0, 0.0, message)


def _lagrange_multipliers(utility: list[np.ndarray], edge: list[np.ndarray], device: list[np.ndarray],
                          budgets: tuple[float, float]) -> tuple[float, float]:
    """Prices (mu_e, mu_d) >= 0 of edge and device seconds that (nearly) minimise the Lagrangian bound
    sum_k max_j (u - mu_e e - mu_d d) + mu_e E + mu_d D; any prices give a valid bound, better ones prune more."""
    u, e, d = np.concatenate(utility), np.concatenate(edge), np.concatenate(device)
    starts = np.concatenate([[0], np.cumsum([len(x) for x in utility])[:-1]])
    scale_e = np.abs(u).mean() / max(e.mean(), 1e-12)
    scale_d = np.abs(u).mean() / max(d.mean(), 1e-12)
    grid = np.concatenate([[0.0], np.logspace(-3, 2, 20)])
    best, centre = math.inf, (0.0, 0.0)
    for _ in range(2):  # a coarse grid, then a finer one around its best point
        mu_e = (grid * scale_e)[:, None, None]
        mu_d = (grid * scale_d)[None, :, None]
        values = np.maximum.reduceat(u - mu_e * e - mu_d * d, starts, axis=2).sum(axis=2)
        values += mu_e[..., 0] * budgets[0] + mu_d[..., 0] * budgets[1]
        i, j = np.unravel_index(int(np.argmin(values)), values.shape)
        if values[i, j] < best:
            best, centre = float(values[i, j]), (float(grid[i] * scale_e), float(grid[j] * scale_d))
        scale_e, scale_d = max(centre[0], 1e-9 * scale_e), max(centre[1], 1e-9 * scale_d)
        grid = np.concatenate([[0.0], np.linspace(0.5, 1.5, 20)])
    return centre


def _branch_and_bound(utility: list[np.ndarray], edge: list[np.ndarray], device: list[np.ndarray],
                      budgets: tuple[float, float], node_limit: int = 50_000) -> list[int] | None:
    """Exact multiple-choice knapsack by depth-first search with a Lagrangian bound; the LP gap of these
    problems is tiny, so almost every branch is cut. None when the node limit is hit (the caller then uses
    the MILP), [] when no choice fits the budgets."""
    mu_e, mu_d = _lagrange_multipliers(utility, edge, device, budgets)
    prices = [u - mu_e * e - mu_d * d for u, e, d in zip(utility, edge, device)]
    order = [np.argsort(-p, kind='stable').tolist() for p in prices]
    suffix_price = np.concatenate([np.cumsum([p.max() for p in prices][::-1])[::-1], [0.0]]).tolist()
    suffix_edge = np.concatenate([np.cumsum([e.min() for e in edge][::-1])[::-1], [0.0]]).tolist()
    suffix_device = np.concatenate([np.cumsum([d.min() for d in device][::-1])[::-1], [0.0]]).tolist()
    # plain Python floats: the search touches single elements, where numpy scalars are slow
    price, utility = [p.tolist() for p in prices], [u.tolist() for u in utility]
    edge, device = [e.tolist() for e in edge], [d.tolist() for d in device]
    levels = len(utility)
    constant = mu_e * budgets[0] + mu_d * budgets[1]
    best: dict = {'utility': -math.inf, 'choice': []}
    chosen = [0] * levels
    nodes = 0

    def search(level: int, price_sum: float, utility_sum: float, used_edge: float, used_device: float) -> bool:
        nonlocal nodes
        if level == levels:
            if utility_sum > best['utility']:
                best['utility'], best['choice'] = utility_sum, list(chosen)
            return True
        for j in order[level]:
            nodes += 1
            if nodes > node_limit:
                return False
            if price_sum + price[level][j] + suffix_price[level + 1] + constant <= best['utility'] + 1e-12:
                break  # candidates are in falling price order: the rest cannot do better
            spent_edge, spent_device = used_edge + edge[level][j], used_device + device[level][j]
            if (spent_edge + suffix_edge[level + 1] > budgets[0]
                    or spent_device + suffix_device[level + 1] > budgets[1]):
                continue
            chosen[level] = j
            if not search(level + 1, price_sum + price[level][j], utility_sum + utility[level][j],
                          spent_edge, spent_device):
                return False
        return True

    return best['choice'] if search(0, 0.0, 0.0, 0.0, 0.0) else None


def joint_exact(requests: Sequence[Request], model: UtilityModel, edge_budget_s: float = math.inf,
                device_budget_s: float = math.inf) -> JointResult:
    """Maximise the sum of utilities, one config per request, with the summed edge and device compute
    seconds (at full availability) within the budgets: a multiple-choice knapsack over the Pareto-optimal
    candidates of each request (dominated ones can never be in an optimum), solved exactly by a Lagrangian
    branch and bound, or by MILP (HiGHS) when the search hits its node limit."""
    tables = [model.table(request) for request in requests]
    candidates = []
    for number, (request, table) in enumerate(zip(requests, tables)):
        if not table.feasible.any():
            return _infeasible(f'request {number} ({request.request_id or request.target_size}) has no config '
                               f'within its latency limit {table.latency_limit_s:.3g} s')
        candidates.append(_pareto_candidates(table))
    edge = [t.latency.edge_seconds[c] for t, c in zip(tables, candidates)]
    device = [t.latency.device_seconds[c] for t, c in zip(tables, candidates)]
    least_edge, least_device = sum(e.min() for e in edge), sum(d.min() for d in device)
    if least_edge > edge_budget_s or least_device > device_budget_s:
        return _infeasible(f'even the cheapest configs need {least_edge:.3g} s of edge and {least_device:.3g} s '
                           f'of device compute; budgets are {edge_budget_s:.3g} s and {device_budget_s:.3g} s')
    best = [int(np.argmax(t.utility[c])) for t, c in zip(tables, candidates)]
    if (sum(e[b] for e, b in zip(edge, best)) <= edge_budget_s
            and sum(d[b] for d, b in zip(device, best)) <= device_budget_s):
        return _joint_result('optimal', tables, [c[b] for c, b in zip(candidates, best)], 'joint_exact')

    utilities = [t.utility[c] for t, c in zip(tables, candidates)]
    # an unlimited budget is the same constraint as "at most everything": keeps the Lagrangian prices finite
    budgets = (min(edge_budget_s, sum(e.max() for e in edge)), min(device_budget_s, sum(d.max() for d in device)))
    searched = _branch_and_bound(utilities, edge, device, budgets)
    if searched:
        return _joint_result('optimal', tables, [int(c[j]) for c, j in zip(candidates, searched)], 'joint_exact')

    sizes = [len(c) for c in candidates]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    total = int(offsets[-1])
    rows = np.concatenate([np.full(n, k) for k, n in enumerate(sizes)])
    choose_one = coo_matrix((np.ones(total), (rows, np.arange(total))), shape=(len(sizes), total))
    budgets = np.vstack([np.concatenate(edge), np.concatenate(device)])
    constraints = [LinearConstraint(choose_one, 1, 1),
                   LinearConstraint(budgets, -np.inf, [edge_budget_s, device_budget_s])]
    utility = np.concatenate(utilities)
    # Presolve costs more than it saves on these small problems; gap 0 makes 'optimal' mean exact.
    solution = milp(-utility, constraints=constraints, integrality=np.ones(total), bounds=Bounds(0, 1),
                    options={'presolve': False, 'mip_rel_gap': 0.0})
    if solution.status != 0 or solution.x is None:
        return _infeasible(f'MILP solver: {solution.message}')
    choice = [int(candidates[k][np.argmax(solution.x[offsets[k]:offsets[k + 1]])]) for k in range(len(sizes))]
    return _joint_result('optimal', tables, choice, 'joint_exact')


def joint_sa(requests: Sequence[Request], model: UtilityModel, rng: np.random.Generator,
             edge_budget_s: float = math.inf, device_budget_s: float = math.inf,
             schedule: AnnealingSchedule | None = None, penalty: float = 10.0) -> JointResult:
    """Algorithm 1 over the joint space: a move changes one variable of one request; Metropolis on the summed
    utility minus a penalty on the budget excess (relative) and on requests over their latency limit, so
    that a random, over-budget start can walk back into the feasible region; only feasible states count
    as results. The penalty (`penalty` x the widest utility range of one request) makes 1 unit of excess
    cost more than any utility gain."""
    tables = [model.table(request) for request in requests]
    shape = model.space.shape
    schedule = schedule or AnnealingSchedule(iterations_per_temperature=10 * max(1, len(requests)))
    positions = [np.array([rng.integers(n) for n in shape]) for _ in requests]
    current = [int(np.ravel_multi_index(p, shape)) for p in positions]
    edge_used = sum(t.latency.edge_seconds[i] for t, i in zip(tables, current))
    device_used = sum(t.latency.device_seconds[i] for t, i in zip(tables, current))
    # Relative latency excess per config: a slope towards the latency limit instead of a cliff.
    over_limit = [np.maximum(0.0, t.latency.total - t.latency_limit_s) / t.latency_limit_s for t in tables]
    lateness = sum(float(o[i]) for o, i in zip(over_limit, current))
    late_count = sum(int(o[i] > 0) for o, i in zip(over_limit, current))  # resets float drift at 0

    def excess(edge: float, device: float, late: float) -> float:
        return (max(0.0, edge - edge_budget_s) / max(edge_budget_s, 1e-9)
                + max(0.0, device - device_budget_s) / max(device_budget_s, 1e-9) + late)

    current_excess = excess(edge_used, device_used, lateness)
    excess_cost = penalty * max(float(np.ptp(t.utility)) for t in tables) + 1e-12
    total_utility = sum(float(t.utility[i]) for t, i in zip(tables, current))
    best = list(current) if current_excess == 0 else None
    best_utility = total_utility if best is not None else -math.inf
    temperature = schedule.initial_temperature
    while temperature > schedule.final_temperature:
        for _ in range(schedule.iterations_per_temperature):
            k = int(rng.integers(len(requests)))
            table, old = tables[k], current[k]
            moved = _neighbour(positions[k], shape, rng)
            new = int(np.ravel_multi_index(moved, shape))
            edge = edge_used + table.latency.edge_seconds[new] - table.latency.edge_seconds[old]
            device = device_used + table.latency.device_seconds[new] - table.latency.device_seconds[old]
            count = late_count - int(over_limit[k][old] > 0) + int(over_limit[k][new] > 0)
            late = lateness + over_limit[k][new] - over_limit[k][old] if count else 0.0
            new_excess = excess(edge, device, late)
            gain = float(table.utility[new] - table.utility[old])
            energy_gain = gain - excess_cost * (new_excess - current_excess)
            if energy_gain < 0 and rng.random() >= math.exp(energy_gain / temperature):
                continue
            positions[k], current[k] = moved, new
            edge_used, device_used, lateness, late_count, current_excess = edge, device, late, count, new_excess
            total_utility += gain
            if current_excess == 0 and total_utility > best_utility:
                best, best_utility = list(current), total_utility
        temperature *= schedule.cooling
    if best is None:
        return _infeasible('annealing found no choice within the budgets and latency limits (not a proof '
                           'that none exists; joint_exact decides that)')
    return _joint_result('feasible', tables, best, 'joint_sa')
