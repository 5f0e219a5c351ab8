"""Simulator against the latency model, queueing behaviour, several edge servers, validation, paper profile."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from t2i_controller.latency import latency_table
from t2i_controller.problem import Config, PipelineSettings, Resources
from t2i_eval.simulation import (PAPER_PROFILE, Arrival, DecisionCache, Simulator, SystemSpec, load_paper_profile,
                                 poisson_arrivals, records_to_measured, simulate, summarize, trace_arrivals,
                                 validate)

PACKAGE = Path(__file__).resolve().parents[1]
RES = Resources(bandwidth_bps=10e6)
TARGETS = [(1280, 720), (1920, 1080)]


@pytest.fixture(scope='module')
def paper():
    return load_paper_profile()


@pytest.mark.parametrize('policy', ['exact', 'sa', 'no_sr', 'one_type', 'cogview3', 'random'])
@pytest.mark.parametrize('link', ['none', 'fifo'])
def test_one_user_reproduces_model_latency(paper, policy, link):
    profile, _ = paper
    arrivals = [Arrival(3.0, 0, (1920, 1080), 0.5, 'only')]
    records, summary = simulate(arrivals, policy, profile, RES, SystemSpec(link_sharing=link), seed=1)
    record = records[0]
    config = Config(record.scale, record.steps, record.gamma)
    table = latency_table([config], (1920, 1080), profile, RES, PipelineSettings())
    assert record.latency_s == pytest.approx(float(table.total[0]), rel=1e-12)
    assert record.predicted_s == pytest.approx(float(table.total[0]), rel=1e-12)
    assert record.edge_wait_s == 0.0
    assert summary['requests'] == 1


@pytest.mark.parametrize('scale, steps, gamma', [(1.0, 20, 0.25), (2.0, 10, 0.25), (4.0, 30, 0.5), (3.0, 8, 1.0)])
def test_fixed_configs_reproduce_model_and_overhead_is_added(paper, scale, steps, gamma):
    profile, _ = paper
    config = Config(scale, steps, gamma)
    table = latency_table([config], (1280, 720), profile, RES, PipelineSettings())
    arrival = [Arrival(0.0, 0, (1280, 720), 0.3, 'x', config)]
    plain = Simulator(profile, RES, SystemSpec(link_sharing='none')).run(arrival)[0]
    assert plain.latency_s == pytest.approx(float(table.total[0]), rel=1e-12)
    extra = Simulator(profile, RES, SystemSpec(hybrid_overhead_s=8.3)).run(arrival)[0]
    assert extra.latency_s == pytest.approx(float(table.total[0]) + (8.3 if scale > 1 else 0.0), rel=1e-9)


def test_spaced_requests_do_not_queue(paper):
    profile, _ = paper
    config = Config(2.0, 20, 0.25)
    arrivals = [Arrival(1000.0 * i, 0, (1280, 720), 0.5, f'r{i}', config) for i in range(5)]
    records = Simulator(profile, RES).run(arrivals)
    assert {round(r.latency_s, 9) for r in records} == {round(records[0].predicted_s, 9)}


def _mean_latency(profile, rate_hz, servers=1, requests=150, seed=3):
    rng = np.random.default_rng(seed)
    arrivals = poisson_arrivals(10, rate_hz / 10, requests, TARGETS, [0.5], rng)
    cache = DecisionCache(profile, RES)
    records = Simulator(profile, RES, SystemSpec(edge_servers=servers), decisions=cache).run(arrivals, 'one_type')
    return summarize(records, servers)


def test_latency_grows_with_load(paper):
    profile, _ = paper
    edge = _mean_latency(profile, 1e-6, requests=20)['predicted_mean_s']  # ~ service time scale
    means = [_mean_latency(profile, rate / edge)['latency_mean_s'] for rate in (0.05, 0.5, 0.9)]
    assert means[0] < means[1] < means[2]
    waits = [_mean_latency(profile, rate / edge)['edge_wait_mean_s'] for rate in (0.05, 0.9)]
    assert waits[0] < waits[1]


def test_more_edge_servers_reduce_latency_under_load(paper):
    profile, _ = paper
    edge = _mean_latency(profile, 1e-6, requests=20)['predicted_mean_s']
    results = [_mean_latency(profile, 0.9 / edge, servers=n) for n in (1, 2, 4)]
    latencies = [r['latency_mean_s'] for r in results]
    assert latencies[0] > latencies[1] > latencies[2]
    assert results[2]['edge_wait_mean_s'] < results[0]['edge_wait_mean_s']


def test_jsq_spreads_simultaneous_arrivals(paper):
    profile, _ = paper
    arrivals = [Arrival(0.0, u, (1280, 720), 0.5, f'r{u}', Config(2.0, 10, 0.25)) for u in range(4)]
    for choice in ('jsq', 'least_work'):
        records = Simulator(profile, RES, SystemSpec(edge_servers=4, server_choice=choice)).run(arrivals)
        assert sorted(r.edge_server for r in records) == [0, 1, 2, 3]
        assert all(r.edge_wait_s == 0 for r in records)


def test_shared_device_queues(paper):
    profile, _ = paper
    config = Config(4.0, 10, 0.25)
    arrivals = [Arrival(0.0, u, (1920, 1080), 0.5, f'r{u}', config) for u in range(3)]
    own = Simulator(profile, RES, SystemSpec(edge_servers=3)).run(arrivals)
    shared = Simulator(profile, RES, SystemSpec(edge_servers=3, devices=1)).run(arrivals)
    assert max(r.latency_s for r in shared) >= max(r.latency_s for r in own)
    assert {r.device for r in shared} == {0}


def test_decision_cache_reuses_deterministic_and_pools_sa(paper):
    profile, _ = paper
    cache = DecisionCache(profile, RES, sa_pool=4)
    rng = np.random.default_rng(0)
    first = cache.decide('exact', (1280, 720), 0.5, rng)
    assert cache.decide('exact', (1280, 720), 0.5, rng) is first
    for _ in range(10):
        cache.decide('sa', (1280, 720), 0.5, rng)
    assert cache.computed == 1 + 4


def test_validation_error_is_zero_for_model_generated_records(paper):
    profile, _ = paper
    rng = np.random.default_rng(5)
    arrivals = poisson_arrivals(3, 0.01, 30, TARGETS, [0.2, 0.8], rng)
    spec = SystemSpec(edge_servers=2)
    records = Simulator(profile, RES, spec).run(arrivals, 'exact')
    measured = json.loads(json.dumps(records_to_measured(records)))  # through JSON, as the bench writes it
    report = validate(measured, profile, RES, spec)
    assert report.mean_abs_pct_error == pytest.approx(0.0, abs=1e-9)
    assert len(report.rows) == 30
    assert all(abs(v) < 1e-9 for v in report.stage_mean_abs_pct_error.values())


def test_validation_reports_known_errors(paper):
    profile, _ = paper
    config = Config(2.0, 20, 0.25)
    predicted = latency_table([config], (1280, 720), profile, RES, PipelineSettings()).total[0]
    rows = [{'request_id': f'm{i}', 'arrival_s': 1000.0 * i, 'target': [1280, 720], 'lambda': 0.5,
             'config': {'S': 2.0, 'D': 20, 'gamma': 0.25}, 'measured': {'total': predicted * factor, 't1': None}}
            for i, factor in enumerate((1.25, 0.8))]
    report = validate(rows, profile, RES)
    assert [round(r['rel_error'], 9) for r in report.rows] == [round(1 / 1.25 - 1, 9), round(1 / 0.8 - 1, 9)]
    assert report.mean_abs_pct_error == pytest.approx(100 * (0.2 + 0.25) / 2)
    with pytest.raises(ValueError):
        validate([{**rows[0], 'config': None}], profile, RES)


def test_trace_arrivals_sorted_with_defaults():
    arrivals = trace_arrivals([{'arrival_s': 2, 'target': [64, 64], 'lambda': 0.1},
                               {'arrival_s': 1, 'target': [64, 64], 'lambda': 0.1, 'user': 3,
                                'config': {'S': 2, 'D': 8}}])
    assert [a.time_s for a in arrivals] == [1.0, 2.0]
    assert arrivals[0].config == Config(2.0, 8, 0.25) and arrivals[0].user == 3 and arrivals[1].config is None


def test_paper_profile_matches_paper_sr_figures(paper):
    profile, extensions = paper
    assert profile.name == 'paper-rtx3080ti-orin'
    # 4x SR of a whole 512x512 input (one patch of 512^2 low-res pixels): the paper's figures
    assert float(profile.device_sr.seconds(512 * 512, 1)) == pytest.approx(8.41)
    assert float(profile.edge_sr.seconds(512 * 512, 1)) == pytest.approx(125.4)
    # linear in pixels: 16 cells of 128x128 cost the same as the whole image (within the log-interp error)
    assert float(profile.edge_sr.seconds(128 * 128, 16)) == pytest.approx(125.4, rel=0.02)
    assert extensions['hybrid_overhead_s'] == 8.3
    # generation: linear in steps, growing with pixels
    assert float(profile.generation(50, 1024 ** 2)) == pytest.approx(0.15 + 50 * 0.30, rel=1e-3)
    assert float(profile.generation(20, 2048 ** 2)) > 4 * float(profile.generation(20, 1024 ** 2)) * 0.9
    assert PAPER_PROFILE.is_file()


def test_no_rclpy_import_in_package():
    for path in (PACKAGE / 't2i_eval').rglob('*.py'):
        tree = ast.parse(path.read_text())
        names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        names += [node.module or '' for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        assert not any(name.split('.')[0] == 'rclpy' for name in names), path
