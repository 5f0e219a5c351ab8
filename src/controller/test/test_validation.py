import math

import pytest

from t2i_controller.validation import RequestLimits, request_problems

LIMITS = RequestLimits(models=('tiny-sdxl',))
GOOD = dict(prompt='a robot', width=1024, height=768, preference_weight=0.5, deadline_s=0.0, model='')


def problems(**changes):
    return request_problems(**{**GOOD, **changes}, limits=LIMITS)


def test_good_request_has_no_problem():
    assert problems() == []
    assert problems(model='tiny-sdxl', preference_weight=1.0, deadline_s=30.0) == []


@pytest.mark.parametrize('changes, fragment', [
    (dict(prompt=''), 'prompt is empty'),
    (dict(prompt='   '), 'prompt is empty'),
    (dict(prompt='x' * 10_000), '10000 characters'),
    (dict(width=0), 'target_width is 0'),
    (dict(height=100_000), 'target_height is 100000'),
    (dict(width=8192, height=8192), 'exceeds'),
    (dict(preference_weight=-1.0), 'lambda'),
    (dict(preference_weight=math.nan), 'lambda'),
    (dict(preference_weight=math.inf), 'lambda'),
    (dict(deadline_s=-1.0), 'deadline_s'),
    (dict(model='sd-turbo-9000'), "unknown model 'sd-turbo-9000'"),
])
def test_each_bad_field_is_named(changes, fragment):
    found = problems(**changes)
    assert any(fragment in problem for problem in found), found


def test_several_problems_are_all_reported():
    assert len(problems(prompt='', width=0, preference_weight=2.0)) == 3
