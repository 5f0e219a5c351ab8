import numpy as np
import pytest

from t2i_common.bandwidth import BandwidthEstimator


def _send_burst(estimator, burst_id, start, bits_per_second, rng, messages=16, nbytes=60_000, jitter_s=0.002):
    """Messages leave back to back over a link of the given rate; arrivals get independent jitter."""
    arrival = start
    for _ in range(messages):
        arrival += 8 * nbytes / bits_per_second
        estimator.observe(burst_id, nbytes, arrival + rng.uniform(0, jitter_s))
    estimator.end_burst(burst_id)
    return arrival + 0.5


@pytest.mark.parametrize('rate', [10e6, 100e6])
def test_converges_within_ten_percent_with_jitter_and_stalls(rate):
    rng = np.random.default_rng(int(rate) % 97)
    estimator = BandwidthEstimator()
    assert estimator.estimate().bits_per_second is None
    time = 0.0
    for burst in range(30):
        stall = rate / 20 if burst in (12, 19) else rate  # two bursts that shared the link with someone else
        time = _send_burst(estimator, burst, time, stall, rng, jitter_s=0.1 * 8 * 60_000 / rate)
    result = estimator.estimate(now=time)
    assert result.bits_per_second == pytest.approx(rate, rel=0.10)
    assert result.rejected >= 2 and result.confidence > 0.7


def test_follows_a_step_change():
    rng = np.random.default_rng(5)
    estimator = BandwidthEstimator()
    time = 0.0
    for burst in range(15):
        time = _send_burst(estimator, burst, time, 100e6, rng)
    for burst in range(15, 30):
        time = _send_burst(estimator, burst, time, 10e6, rng)
    assert estimator.estimate().bits_per_second == pytest.approx(10e6, rel=0.10)


def test_small_bursts_and_single_messages_give_no_sample():
    estimator = BandwidthEstimator(min_bytes=32_000)
    estimator.observe('a', 100_000, 1.0)
    estimator.end_burst('a')
    estimator.observe('b', 1_000, 2.0)
    estimator.observe('b', 1_000, 2.1)
    estimator.observe('b', 1_000, 2.2)
    assert estimator.end_burst('b') is None
    assert estimator.end_burst('never-seen') is None
    estimate = estimator.estimate()
    assert estimate.bits_per_second is None and estimate.confidence == 0 and estimate.rejected == 2


def test_first_message_bytes_are_excluded_and_stale_bursts_close():
    estimator = BandwidthEstimator(min_messages=2, min_bytes=1, burst_gap_s=1.0)
    estimator.observe(1, 10**9, 0.0)  # its bytes crossed the link before the clock started
    estimator.observe(1, 125_000, 0.1)  # 1 Mbit in 0.1 s
    estimator.observe(2, 500, 5.0)  # burst 1 has been quiet for 4.9 s: it ends here
    assert estimator.estimate().bits_per_second == pytest.approx(10e6)


def test_confidence_grows_with_samples_and_decays_with_age():
    rng = np.random.default_rng(1)
    estimator = BandwidthEstimator(half_life_s=10.0)
    time = _send_burst(estimator, 0, 0.0, 50e6, rng)
    first = estimator.estimate(now=time).confidence
    for burst in range(1, 8):
        time = _send_burst(estimator, burst, time, 50e6, rng)
    later = estimator.estimate(now=time).confidence
    assert 0 < first < later <= 1
    assert estimator.estimate(now=time + 10.0).confidence == pytest.approx(later / 2, rel=0.01)


def test_invalid_settings():
    with pytest.raises(ValueError):
        BandwidthEstimator(smoothing=0)
    with pytest.raises(ValueError):
        BandwidthEstimator(min_messages=1)
