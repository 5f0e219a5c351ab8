import json
import math

import numpy as np
import pytest
import yaml

from t2i_controller.latency import latency_table
from t2i_controller.problem import CandidateSpace, Config, PipelineSettings, Request, Resources
from t2i_controller.profile import DEFAULT_PROFILE, ProfileError, load_profile, parse_profile
from t2i_controller.utility import UtilityModel


def _profile_dict():
    """A small profile with round numbers, so that expected latencies can be computed by hand."""
    return {
        'version': 1, 'name': 'hand', 'weights': {'generator': 'none'},
        'generation': {'steps': [10, 20], 'pixels': [65536, 262144], 'seconds': [[1.0, 4.0], [2.0, 8.0]]},
        'decode': {'pixels': [65536, 262144], 'seconds': [0.5, 2.0]},
        'edge_sr': {'patch_pixels': [1024, 4096], 'seconds_per_patch': [1.0, 3.0], 'batch_efficiency': 0.5},
        'device_sr': {'patch_pixels': [1024, 4096], 'seconds_per_patch': [0.1, 0.4]},
        'transfer': {'encoding': 'raw', 'bytes_per_pixel': {'raw': 3.0, 'png': 1.5}, 'per_message_overhead_bytes': 100},
        'quality': {'source': 'test', 'generation': {'steps': [10, 20], 'pixels': [65536, 262144],
                                                     'score': [[0.4, 0.6], [0.5, 0.8]]},
                    'foreground_ratio': {'gamma': [0.0, 1.0], 'factor': [0.8, 1.0]}},
    }


def test_default_profile_loads_and_documents_its_sources():
    profile = load_profile(DEFAULT_PROFILE)
    assert profile.name == 'default-cpu' and 'not measured' in profile.quality_source.lower()
    assert profile.generation(50, 1024 * 1024) > profile.generation(4, 512 * 512) > 0


def test_interpolation_log_pixels_linear_steps_and_clamped_extrapolation():
    profile = parse_profile(_profile_dict())
    assert profile.generation(15, 65536) == pytest.approx(1.5)
    assert profile.generation(10, 131072) == pytest.approx(2.5)  # halfway in log(pixels)
    assert profile.generation(30, 65536) == pytest.approx(3.0)  # linear beyond the last step
    assert profile.decode(16384) == 0.0  # would be -1.0: never below 0
    assert profile.quality_foreground(0.5) == pytest.approx(0.9)
    assert profile.generation([10, 20], [65536, 262144]).tolist() == [1.0, 8.0]


def test_load_yaml_and_json_equal(tmp_path):
    data = _profile_dict()
    (tmp_path / 'p.yaml').write_text(yaml.safe_dump(data))
    (tmp_path / 'p.json').write_text(json.dumps(data))
    a, b = load_profile(tmp_path / 'p.yaml'), load_profile(tmp_path / 'p.json')
    assert a.generation(12, 100000) == b.generation(12, 100000)
    assert a.with_encoding('png').transfer.encoded_bytes_per_pixel == 1.5


@pytest.mark.parametrize('path, value, fragment', [
    (('version',), 2, 'version'),
    (('generation', 'seconds'), [[1.0, 2.0]], 'generation.seconds'),
    (('generation', 'pixels'), [262144, 65536], 'strictly increasing'),
    (('decode', 'seconds'), [0.5], 'decode.seconds'),
    (('edge_sr', 'batch_efficiency'), 1.5, 'batch_efficiency'),
    (('transfer', 'encoding'), 'webp', 'transfer.encoding'),
    (('device_sr', 'seconds_per_patch'), ['a', 'b'], 'device_sr.seconds_per_patch'),
    (('quality',), None, 'quality'),
    (('generation', 'seconds'), [[1.0, -4.0], [2.0, 8.0]], '>= 0'),
])
def test_malformed_profiles_name_the_key(path, value, fragment):
    data = _profile_dict()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ProfileError, match=fragment.replace('.', r'\.')):
        parse_profile(data, 'bad.yaml')


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(ProfileError, match='cannot read'):
        load_profile(tmp_path / 'missing.yaml')
    (tmp_path / 'broken.yaml').write_text('version: [1,\n')
    with pytest.raises(ProfileError, match='not valid YAML'):
        load_profile(tmp_path / 'broken.yaml')


def test_latency_equals_hand_computation():
    profile = parse_profile(_profile_dict())
    settings = PipelineSettings(grid=2, overlap_px=8, size_multiple=64, foreground_ratio=0.25)
    resources = Resources(edge_availability=0.5, device_availability=0.25, bandwidth_bps=8e6)
    table = latency_table([Config(2.0, 10, 0.25)], (512, 512), profile, resources, settings)
    # R = 256 x 256 = 65536 px; 1 foreground and 3 background patches; mean patch side 128 + 2*8*(1/2) = 136.
    patch = 136 * 136
    xi2 = 1.0 + 2.0 * np.log(patch / 1024) / np.log(4)  # extrapolated past 4096 px from the last two points
    xi3 = 0.1 + 0.3 * np.log(patch / 1024) / np.log(4)
    out_patch = (256 + 8 * 2) ** 2  # output side 256 + overlap 8 x scale 2
    breakdown = table.breakdown(0)
    assert breakdown.t1 == pytest.approx((1.0 + 0.5) / 0.5)
    assert breakdown.t2 == pytest.approx(1 * xi2 * 0.5 / 0.5)
    assert breakdown.t3 == pytest.approx(3 * xi3 / 0.25)
    assert breakdown.t4 == pytest.approx(1 * (out_patch * 3 + 100) * 8 / 8e6)
    assert breakdown.t5 == pytest.approx(3 * (patch * 3 + 100) * 8 / 8e6)
    assert breakdown.t6 == pytest.approx(max(breakdown.t2 + breakdown.t4, breakdown.t3 + breakdown.t5))
    assert breakdown.total == pytest.approx(breakdown.t1 + breakdown.t6)
    assert breakdown.edge_seconds == pytest.approx(1.5 + xi2 * 0.5)
    assert breakdown.device_seconds == pytest.approx(3 * xi3)


def test_no_sr_sends_the_whole_image_and_runs_no_sr():
    profile = parse_profile(_profile_dict())
    table = latency_table([Config(1.0, 20, 0.25)], (256, 256), profile, Resources(bandwidth_bps=1e6),
                          PipelineSettings())
    b = table.breakdown(0)
    assert b.t2 == b.t3 == b.t4 == 0.0 and b.device_seconds == 0.0
    assert b.t5 == pytest.approx((256 * 256 * 3 + 100) * 8 / 1e6)
    assert b.t1 == pytest.approx(2.0 + 0.5)


def test_quality_and_utility_forms():
    profile = parse_profile(_profile_dict())
    settings = PipelineSettings(grid=2)
    space = CandidateSpace(scales=(1.0, 2.0), steps=(10, 20), ratios=(0.25,))
    request = Request((512, 512))
    raw = UtilityModel(profile, settings=settings, space=space, weight=0.1, form='raw')
    norm = UtilityModel(profile, settings=settings, space=space, weight=0.1)
    config = Config(2.0, 20, 0.25)
    d_raw, d_norm = raw.evaluate(config, request), norm.evaluate(config, request)
    assert d_raw.quality == pytest.approx(0.5 * 0.85)  # g(20, 256^2) * m(0.25)
    assert d_raw.utility == pytest.approx(d_raw.quality - 0.1 * d_raw.latency.total)
    q_ref, t_ref = norm.references((512, 512))
    assert q_ref == pytest.approx(max(norm.table(request).quality))
    assert t_ref == pytest.approx(raw.evaluate(Config(1.0, 20, 0.25), request).latency.total)
    assert d_norm.utility == pytest.approx(d_norm.quality / q_ref - 0.1 * d_norm.latency.total / t_ref)
    with pytest.raises(ValueError):
        UtilityModel(profile, form='percent')


def test_latency_bound_and_deadline_make_configs_infeasible():
    profile = parse_profile(_profile_dict())
    model = UtilityModel(profile, latency_bound_s=8.0)
    slow = Config(1.0, 20, 0.25)
    assert model.evaluate(slow, Request((512, 512))).latency.total > 8.0
    decision = model.evaluate(slow, Request((512, 512)))
    assert not decision.feasible and 'exceeds' in decision.message
    fast = Config(4.0, 10, 0.25)
    assert model.evaluate(fast, Request((512, 512))).feasible
    assert not model.evaluate(fast, Request((512, 512), deadline_s=1e-3)).feasible


@pytest.mark.parametrize('kwargs', [{'edge_availability': 0}, {'device_availability': 1.5},
                                    {'bandwidth_bps': 0}])
def test_resources_validated(kwargs):
    with pytest.raises(ValueError):
        Resources(**kwargs)


def test_candidate_space_order_and_validation():
    space = CandidateSpace(scales=(1.0, 2.0), steps=(4, 8, 16), ratios=(0.25, 0.5))
    assert space.size == 12 and space.config(7) == Config(2.0, 4, 0.5)
    with pytest.raises(ValueError):
        CandidateSpace(scales=(2.0, 1.0))
    with pytest.raises(ValueError):
        CandidateSpace(ratios=(0.5, 1.5))
    assert math.isinf(UtilityModel(load_profile()).latency_limit(Request((64, 64))))
