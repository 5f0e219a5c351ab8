"""Receiver-side link bandwidth estimate from the patches that arrive, for the controller's B.

Only arrival times on one clock are used, so sender and receiver clocks need not agree. A burst (the patches
of one request) gives one throughput sample: the bytes after the first message divided by the spread of the
arrival times (the first message only marks when the link started delivering the burst). Samples are
smoothed by an EWMA; a sample more than `outlier_mads` scaled MADs from the median of recent samples is
dropped as an outlier (a stall, a burst that shared the link), unless `regime_change_after` such samples in a
row agree with each other: then the link really changed and the estimate restarts from them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation


@dataclass(frozen=True)
class BandwidthEstimate:
    bits_per_second: float | None  # None until the first accepted sample
    confidence: float  # 0..1: grows with accepted samples, falls with their spread and with age
    samples: int  # accepted samples so far
    rejected: int  # samples dropped as outliers or too small


@dataclass
class _Burst:
    first_arrival: float
    last_arrival: float
    messages: int = 1
    bytes_after_first: int = 0


class BandwidthEstimator:
    """Feed `observe(burst_id, nbytes, arrival_time)` per received message; end bursts with `end_burst`.

    A burst also ends by itself when a message of it is older than `burst_gap_s` at the next observation.
    Samples need at least `min_messages` messages and `min_bytes` bytes after the first message; smaller
    bursts are timing noise. `half_life_s` makes the confidence decay when no new samples arrive.
    """

    def __init__(
        self,
        smoothing: float = 0.3,
        outlier_mads: float = 4.0,
        window: int = 15,
        min_messages: int = 3,
        min_bytes: int = 32_000,
        regime_change_after: int = 3,
        burst_gap_s: float = 2.0,
        half_life_s: float = 60.0,
    ) -> None:
        if not 0.0 < smoothing <= 1.0:
            raise ValueError(f'smoothing must be in (0, 1], got {smoothing}')
        if min_messages < 2:
            raise ValueError('a throughput sample needs at least 2 messages')
        self.smoothing = smoothing
        self.outlier_mads = outlier_mads
        self.min_messages = min_messages
        self.min_bytes = min_bytes
        self.regime_change_after = regime_change_after
        self.burst_gap_s = burst_gap_s
        self.half_life_s = half_life_s
        self._recent: deque[float] = deque(maxlen=window)
        self._suspects: deque[float] = deque(maxlen=regime_change_after)
        self._open: dict[object, _Burst] = {}
        self._value: float | None = None
        self._accepted = 0
        self._rejected = 0
        self._last_sample_time: float | None = None

    def observe(self, burst_id: object, nbytes: int, arrival_time: float) -> None:
        for stale_id in [key for key, burst in self._open.items()
                         if key != burst_id and arrival_time - burst.last_arrival > self.burst_gap_s]:
            self.end_burst(stale_id)
        burst = self._open.get(burst_id)
        if burst is None:
            self._open[burst_id] = _Burst(arrival_time, arrival_time)
            return
        burst.messages += 1
        burst.bytes_after_first += nbytes
        burst.first_arrival = min(burst.first_arrival, arrival_time)
        burst.last_arrival = max(burst.last_arrival, arrival_time)

    def end_burst(self, burst_id: object) -> float | None:
        """Close a burst; returns its throughput sample in bit/s if it was accepted."""
        burst = self._open.pop(burst_id, None)
        if burst is None:
            return None
        spread = burst.last_arrival - burst.first_arrival
        if burst.messages < self.min_messages or burst.bytes_after_first < self.min_bytes or spread <= 0:
            self._rejected += 1
            return None
        return self.add_sample(8.0 * burst.bytes_after_first / spread, burst.last_arrival)

    def add_sample(self, bits_per_second: float, time: float) -> float | None:
        """Feed one throughput sample directly; returns it if accepted, None if rejected as an outlier."""
        if self._is_outlier(bits_per_second):
            self._suspects.append(bits_per_second)  # only the latest run counts
            if len(self._suspects) < self.regime_change_after or self._is_outlier_among_suspects():
                self._rejected += 1
                return None
            # The link changed: restart from the agreeing suspects instead of smoothing towards them.
            self._recent.clear()
            self._recent.extend(self._suspects)
            self._value = float(np.median(self._suspects))
            self._accepted += len(self._suspects)
            self._suspects.clear()
            self._last_sample_time = time
            return bits_per_second
        self._suspects.clear()
        self._recent.append(bits_per_second)
        self._value = bits_per_second if self._value is None else (
            self.smoothing * bits_per_second + (1 - self.smoothing) * self._value)
        self._accepted += 1
        self._last_sample_time = time
        return bits_per_second

    def _spread(self, values) -> tuple[float, float]:
        median = float(np.median(values))
        return median, MAD_TO_SIGMA * float(np.median(np.abs(np.asarray(values) - median)))

    def _is_outlier(self, sample: float) -> bool:
        if len(self._recent) < 3:
            return False
        median, sigma = self._spread(self._recent)
        # A floor of 5% of the median keeps a run of identical samples from rejecting all jitter.
        return abs(sample - median) > self.outlier_mads * max(sigma, 0.05 * median)

    def _is_outlier_among_suspects(self) -> bool:
        median, sigma = self._spread(self._suspects)
        return any(abs(s - median) > self.outlier_mads * max(sigma, 0.05 * median) for s in self._suspects)

    def estimate(self, now: float | None = None) -> BandwidthEstimate:
        """The smoothed bandwidth; pass `now` (same clock as arrivals) to let the confidence age."""
        if self._value is None:
            return BandwidthEstimate(None, 0.0, 0, self._rejected)
        count_term = 1.0 - 0.5 ** (self._accepted / 2.0)
        median, sigma = self._spread(self._recent)
        dispersion_term = 1.0 / (1.0 + sigma / max(median, 1e-9))
        age = 0.0 if now is None or self._last_sample_time is None else max(0.0, now - self._last_sample_time)
        age_term = 0.5 ** (age / self.half_life_s)
        return BandwidthEstimate(self._value, count_term * dispersion_term * age_term, self._accepted, self._rejected)
