"""The precision table's judgements: a quantized run worse than a smaller kind of the same backend
is flagged, whatever the numbers; the 总结 trade-off takes the smallest kind against the floor."""

import math

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from llmbench.analyze.precision import COLUMNS, _cost_above_kind, tradeoffs


def _row(runner, weights, kind, top1, low, high, decode=100.0, memory=1000.0):
    return {
        **dict.fromkeys(COLUMNS, math.nan),
        "model": "m",
        "backend": runner.partition("+")[0],
        "runner": runner,
        "weights": weights,
        "value_bits": kind,
        "bits_per_weight": kind + 0.5 if weights else 16.0,
        "decode_tok_s": decode,
        "decode_ci95_low": decode * 0.9,
        "decode_ci95_high": decode * 1.1,
        "decode_std": decode * 0.05,
        "decode_n": 3,
        "memory_mib": memory,
        "memory_ci95_low": memory * 0.99,
        "memory_ci95_high": memory * 1.01,
        "memory_std": memory * 0.005,
        "memory_n": 3,
        "top1": top1,
        "top1_ci95_low": low,
        "top1_ci95_high": high,
    }


@given(st.floats(0, 1), st.floats(0, 1), st.floats(0.001, 0.2))
def test_int8_is_flagged_exactly_when_its_agreement_lies_wholly_below_int4s(int8, int4, half):
    table = pd.DataFrame(
        [
            _row("b", "", math.nan, 1.0, 1.0, 1.0),
            _row("b+int8", "int8", 8, int8, int8 - half, int8 + half),
            _row("b+int4", "int4", 4, int4, int4 - half, int4 + half),
        ]
    )
    flags = _cost_above_kind(table)
    assert flags.tolist() == [False, int8 + half < int4 - half, False]


def test_the_tradeoff_takes_the_smallest_kind_and_says_its_ratios_against_the_floor():
    table = pd.DataFrame(
        [
            _row("b", "", math.nan, 1.0, 1.0, 1.0, decode=100.0, memory=1200.0),
            _row("b+int8", "int8", 8, 0.99, 0.98, 1.0, decode=150.0, memory=700.0),
            _row("b+int4", "int4", 4, 0.9, 0.85, 0.95, decode=200.0, memory=400.0),
        ]
    )
    (point,) = tradeoffs(table)
    assert point["weights"] == "int4"
    assert point["speedup"][0] == 2.0 and point["speedup"][1] < 2.0 < point["speedup"][2]
    assert point["smaller"][0] == 3.0
    assert (point["top1"], point["top1_floor"]) == (0.9, 1.0)
