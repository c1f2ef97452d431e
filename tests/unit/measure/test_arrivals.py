import itertools
import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmbench.measure.arrivals import arrival_offsets_s, intended_rate_per_s


@settings(max_examples=50, deadline=None)
@given(
    count=st.integers(1, 300),
    rate=st.floats(0.01, 1000),
    burstiness=st.floats(0.1, 10),
    seed=st.integers(0, 2**16),
)
def test_a_schedule_starts_at_zero_never_goes_back_and_has_one_time_per_request(
    count, rate, burstiness, seed
):
    offsets = arrival_offsets_s(count, rate, burstiness, seed)
    assert len(offsets) == count and offsets[0] == 0.0
    assert all(b >= a for a, b in itertools.pairwise(offsets))


@pytest.mark.parametrize("burstiness", [0.5, 1.0, 4.0])
def test_gaps_average_one_over_the_rate_whatever_the_burstiness(burstiness):
    offsets = arrival_offsets_s(20001, 8.0, burstiness, seed=1)
    assert intended_rate_per_s(offsets) == pytest.approx(8.0, rel=0.03)


def test_burstiness_below_one_spreads_the_gaps_and_above_one_evens_them():
    def cv(burstiness):
        offsets = arrival_offsets_s(20001, 5.0, burstiness, seed=2)
        gaps = [b - a for a, b in itertools.pairwise(offsets)]
        return statistics.stdev(gaps) / statistics.mean(gaps)

    # a gamma of shape k has a coefficient of variation 1/sqrt(k); Poisson's is 1
    assert cv(1.0) == pytest.approx(1.0, rel=0.05)
    assert cv(0.25) == pytest.approx(2.0, rel=0.08)
    assert cv(4.0) == pytest.approx(0.5, rel=0.05)


def test_an_infinite_rate_sends_everything_at_once_and_a_seed_repeats_its_schedule():
    assert arrival_offsets_s(5, math.inf) == [0.0] * 5
    assert arrival_offsets_s(50, 3.0, 1.0, seed=7) == arrival_offsets_s(50, 3.0, 1.0, seed=7)
    assert arrival_offsets_s(50, 3.0, 1.0, seed=7) != arrival_offsets_s(50, 3.0, 1.0, seed=8)


@pytest.mark.parametrize(
    "args, word", [((0, 1.0), "count"), ((3, 0.0), "rate_per_s"), ((3, 1.0, -1.0), "burstiness")]
)
def test_bad_arguments_are_named(args, word):
    with pytest.raises(ValueError, match=word):
        arrival_offsets_s(*args)
