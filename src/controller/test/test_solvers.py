import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from t2i_controller.baselines import POLICIES, choose_config
from t2i_controller.problem import CandidateSpace, Config, Request
from t2i_controller.profile import load_profile
from t2i_controller.solvers import exact_search, joint_exact, joint_sa, simulated_annealing
from t2i_controller.utility import UtilityModel

PROFILE = load_profile()
SMALL = CandidateSpace(scales=(1.0, 2.0, 4.0), steps=(4, 8, 16, 32), ratios=(0.25, 0.5))
targets = st.sampled_from([(512, 512), (768, 512), (1024, 1024), (1536, 1024), (2048, 2048)])


def _model(weight=0.5, bound=math.inf, space=SMALL, form='normalised'):
    return UtilityModel(PROFILE, space=space, weight=weight, latency_bound_s=bound, form=form)


@given(targets, st.floats(0, 1), st.sampled_from([math.inf, 600.0, 200.0]), st.sampled_from(['raw', 'normalised']))
@settings(max_examples=30, deadline=None)
def test_exact_search_equals_brute_force(target, weight, bound, form):
    model = _model(weight, bound, form=form)
    request = Request(target)
    decisions = [model.evaluate(SMALL.config(i), request) for i in range(SMALL.size)]
    feasible = [d for d in decisions if d.feasible]
    chosen = exact_search(request, model)
    if feasible:
        assert chosen.feasible and chosen.utility == pytest.approx(max(d.utility for d in feasible))
    else:
        assert not chosen.feasible and 'no config' in chosen.message
        assert chosen.latency.total == pytest.approx(min(d.latency.total for d in decisions))


@given(st.lists(targets, min_size=1, max_size=3), st.floats(0.05, 1), st.floats(0.2, 1.2), st.floats(0.2, 1.2))
@settings(max_examples=30, deadline=None)
def test_joint_exact_equals_brute_force(target_list, weight, edge_share, device_share):
    model = _model(weight, bound=900.0)
    requests = [Request(t) for t in target_list]
    tables = [model.table(r) for r in requests]
    # Budgets as a share of what every request's own best choice would use: often binding.
    alone = [exact_search(r, model) for r in requests]
    edge_budget = edge_share * sum(d.latency.edge_seconds for d in alone)
    device_budget = device_share * sum(d.latency.device_seconds for d in alone) + 1e-6
    def best_within(slack: float) -> float:
        best = -math.inf
        for choice in itertools.product(*[np.flatnonzero(t.feasible) for t in tables]):
            edge = sum(t.latency.edge_seconds[i] for t, i in zip(tables, choice))
            device = sum(t.latency.device_seconds[i] for t, i in zip(tables, choice))
            if edge <= edge_budget * (1 + slack) and device <= device_budget * (1 + slack):
                best = max(best, sum(t.utility[i] for t, i in zip(tables, choice)))
        return best

    # HiGHS accepts solutions within its feasibility tolerance (~1e-7 relative): a budget met to within
    # that is met, so the optimum must lie between the strict and the tolerant brute-force optimum.
    strict, tolerant = best_within(0.0), best_within(1e-6)
    result = joint_exact(requests, model, edge_budget, device_budget)
    if tolerant == -math.inf or (strict == -math.inf and result.status == 'infeasible'):
        assert result.status == 'infeasible' and result.message and result.decisions == []
    else:
        assert result.status == 'optimal'
        assert strict - 1e-6 <= result.total_utility <= tolerant + 1e-6
        assert result.edge_seconds <= edge_budget * (1 + 1e-6) and result.device_seconds <= device_budget * (1 + 1e-6)


def test_joint_exact_reports_a_request_without_any_feasible_config():
    result = joint_exact([Request((512, 512)), Request((2048, 2048), deadline_s=1.0, request_id='big')], _model())
    assert result.status == 'infeasible' and 'big' in result.message


def test_simulated_annealing_is_seeded_feasible_and_never_beats_exact():
    model = _model(bound=900.0, space=CandidateSpace())
    request = Request((1024, 1024))
    first = simulated_annealing(request, model, np.random.default_rng(7))
    again = simulated_annealing(request, model, np.random.default_rng(7))
    assert first == again
    assert first.iterations == 10 * math.ceil(math.log(1e-3) / math.log(0.9))
    assert first.decision.feasible and first.decision.latency.total <= 900.0
    assert first.decision.utility <= exact_search(request, model).utility + 1e-12


def test_simulated_annealing_finds_the_optimum_of_a_one_dimensional_concave_space():
    model = _model(space=CandidateSpace(scales=(2.0,), steps=tuple(range(4, 51)), ratios=(0.25,)))
    request = Request((1024, 1024))
    for seed in range(5):
        assert simulated_annealing(request, model, np.random.default_rng(seed)).decision.utility == pytest.approx(
            exact_search(request, model).utility)


def test_joint_sa_is_feasible_and_below_the_exact_optimum():
    model = _model(bound=900.0)
    requests = [Request((512, 512)), Request((1024, 1024)), Request((768, 512))]
    exact = joint_exact(requests, model, edge_budget_s=800.0)
    annealed = joint_sa(requests, model, np.random.default_rng(3), edge_budget_s=800.0)
    assert exact.status == 'optimal'
    assert annealed.status == 'feasible' and annealed.edge_seconds <= 800.0
    assert annealed.total_utility <= exact.total_utility + 1e-9
    assert joint_sa(requests, model, np.random.default_rng(3), edge_budget_s=800.0) == annealed


def test_baselines_obey_their_definitions():
    model = _model(space=CandidateSpace())
    request = Request((1024, 1024))
    rng = np.random.default_rng(0)
    assert set(POLICIES) >= {'random', 'no_sr', 'one_type', 'cogview3', 'sa', 'exact'}
    no_sr = choose_config('no_sr', request, model, rng)
    assert no_sr.config.scale == 1.0
    assert no_sr.utility == pytest.approx(max(model.evaluate(Config(1.0, d, 0.25), request).utility for d in range(4, 51)))
    one_type = choose_config('one_type', request, model, rng)
    assert one_type.config.scale == 2.0 and one_type.config.foreground_ratio == 0.25
    cogview = choose_config('cogview3', request, model, rng)
    assert (cogview.config.scale, cogview.config.foreground_ratio) == (2.0, 1.0)
    assert cogview.utility == pytest.approx(max(model.evaluate(Config(2.0, d, 1.0), request).utility for d in range(4, 51)))
    exact = choose_config('exact', request, model, rng)
    for name in POLICIES:
        decision = choose_config(name, request, model, np.random.default_rng(1))
        assert decision.policy == name
        if name != 'cogview3':  # gamma = 1 lies outside this space, so the exact search cannot see it
            assert decision.utility <= exact.utility + 1e-12
    picks = {choose_config('random', request, model, np.random.default_rng(s)).config for s in range(20)}
    assert len(picks) > 5 and all(c.scale in model.space.scales and c.steps in model.space.steps for c in picks)
    with pytest.raises(ValueError, match='known'):
        choose_config('greedy', request, model, rng)


@given(st.integers(0, 10_000), st.integers(2, 7), st.floats(0.3, 0.9))
@settings(max_examples=40, deadline=None)
def test_branch_and_bound_equals_brute_force_on_random_knapsacks(seed, requests, tightness):
    from t2i_controller.solvers import _branch_and_bound

    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 5, requests)
    utility = [rng.normal(size=n) for n in sizes]
    edge = [rng.uniform(1, 10, n) for n in sizes]
    device = [rng.uniform(1, 10, n) for n in sizes]
    budgets = (tightness * sum(e.max() for e in edge), tightness * sum(d.max() for d in device))
    best = -math.inf
    for choice in itertools.product(*[range(n) for n in sizes]):
        if (sum(e[j] for e, j in zip(edge, choice)) <= budgets[0]
                and sum(d[j] for d, j in zip(device, choice)) <= budgets[1]):
            best = max(best, sum(u[j] for u, j in zip(utility, choice)))
    found = _branch_and_bound(utility, edge, device, budgets)
    if best == -math.inf:
        assert found == []
    else:
        assert sum(u[j] for u, j in zip(utility, found)) == pytest.approx(best, abs=1e-9)
        assert sum(e[j] for e, j in zip(edge, found)) <= budgets[0]


def test_branch_and_bound_gives_up_at_its_node_limit_so_the_milp_takes_over():
    from t2i_controller.solvers import _branch_and_bound

    rng = np.random.default_rng(1)
    utility, edge, device = ([rng.uniform(0, 1, 5) for _ in range(6)] for _ in range(3))
    budgets = (0.5 * sum(e.max() for e in edge), 0.5 * sum(d.max() for d in device))
    assert _branch_and_bound(utility, edge, device, budgets, node_limit=3) is None
    assert _branch_and_bound(utility, edge, device, budgets) is not None
