"""Every per-level row names its level: a run of concurrency levels (a sweep) or rate levels (an open
loop) has one row per level and metric in summary.csv, and one per level in the resources and cost
rows, keyed by (concurrency, rate_per_s); no two levels read as one.

The fault this guards against: per-level CPU rows of open-loop rate levels were written without their
rate, so each looked like the run's own row and resources_table met two values for one metric."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmbench.analyze.summary import LEVEL_COLUMNS, LevelId, run_level, summary_table
from llmbench.analyze.tables import cost_rows, resources_table, roofline_table
from llmbench.report.narrative import diagnosis
from llmbench.report.strings import load_strings
from records import MIB, record, scenario

MODELS = {"tiny": {"parameter_bytes": 10 * MIB, "decode_bytes": 1e7}}
BANDWIDTH = {"device": "cpu", "available": True, "name": "cpu", "bytes_per_s": 3e10, "uuid": None}
KEYS = ["model", "backend", "scenario"]

# (scenario type, its settings) drawn: levels of both kinds, one level or several, batch 1 or not
SCENARIOS = st.one_of(
    st.builds(lambda: ("loop", {})),
    st.builds(
        lambda c: ("sweep", {"concurrency": c}),
        st.lists(st.sampled_from([1, 2, 4]), min_size=1, max_size=3, unique=True),
    ),
    st.builds(
        lambda r, cap: ("open-loop", {"rates": r, "requests": 3, "max_concurrency": cap}),
        st.lists(st.sampled_from([0.5, 1.0, 2.0, 4.0]), min_size=1, max_size=3, unique=True),
        st.sampled_from([None, 1, 2]),
    ),
)


def _records(drawn, gpu):
    return [
        record(backend, f"s{i}", scenario(kind, output_tokens=3, **settings), gpu=gpu)
        for i, (kind, settings) in enumerate(drawn)
        for backend in ("hf", "fastllm")
    ]


def _of(frame, key):
    """The rows of one run (model, backend, scenario)."""
    return frame[(frame.model == key[0]) & (frame.backend == key[1]) & (frame.scenario == key[2])]


def _levels(rec) -> set[LevelId]:
    levels = rec.measurement.levels
    return {LevelId.of_level(lv) for lv in levels} if len(levels) > 1 else {LevelId()}


@given(drawn=st.lists(SCENARIOS, min_size=1, max_size=3), gpu=st.booleans())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_per_level_row_is_keyed_by_its_level_and_no_key_repeats(drawn, gpu):
    records = _records(drawn, gpu)
    summary = summary_table(records)
    resources = resources_table(summary, MODELS, BANDWIDTH, records)
    roofline = roofline_table(summary, records, MODELS, BANDWIDTH)
    for table, key in ((summary, [*KEYS, *LEVEL_COLUMNS, "metric"]), (resources, KEYS + LEVEL_COLUMNS)):
        assert not table.duplicated(subset=key).any(), table[table.duplicated(subset=key, keep=False)][key]
    assert not roofline.duplicated(subset=KEYS + LEVEL_COLUMNS).any()
    # a level is a concurrency or a rate, never both
    assert not summary[LEVEL_COLUMNS].notna().all(axis=1).any()
    costs = cost_rows(resources)
    verdicts = diagnosis(resources, load_strings("en"))
    for rec in records:
        key = (rec.key.model, rec.key.runner, rec.key.scenario)
        mine = _of(summary, key)
        measured = {LevelId.of_level(lv) for lv in rec.measurement.levels}
        assert {LevelId.of_row(r) for r in mine[~run_level(mine)].itertuples()} == measured - {LevelId()}
        assert {LevelId.of_row(r) for r in _of(costs, key).itertuples()} == _levels(rec)
        assert all((*key, level) in verdicts for level in _levels(rec))
        own = _of(resources[run_level(resources)], key)
        assert own.levels.tolist() == [len(rec.measurement.levels)]


def test_an_open_loop_runs_cpu_cost_is_per_rate_and_its_own_row_keeps_none():
    """Two rates: their CPU rows carry their rate; the run's own row has no per-level CPU figure."""
    s = scenario("open-loop", rates=[1.0, 2.0], requests=3, output_tokens=3)
    summary = summary_table([record("fastllm", "open", s)])
    cpu = summary[summary.metric == "cpu_ms_per_output_token"]
    assert sorted(cpu.rate_per_s.dropna()) == [1.0, 2.0] and cpu.concurrency.isna().all()
    resources = resources_table(summary, MODELS, BANDWIDTH, [record("fastllm", "open", s)])
    assert resources.rate_per_s.tolist()[1:] == [1.0, 2.0]
    assert resources.cpu_ms_per_output_token.iloc[1:].gt(0).all()


def test_rows_of_two_levels_that_lost_their_level_are_refused_by_name():
    s = scenario("open-loop", rates=[1.0, 2.0], requests=3, output_tokens=3)
    summary = summary_table([record("fastllm", "open", s)])
    summary["rate_per_s"] = float("nan")  # what the fault wrote
    with pytest.raises(ValueError, match="cpu_ms_per_output_token"):
        resources_table(summary, MODELS, BANDWIDTH, [])


@pytest.mark.parametrize(
    ("level", "text"),
    [(LevelId(), ""), (LevelId(concurrency=4), "4"), (LevelId(rate_per_s=0.5), "0.5/s")],
)
def test_a_level_reads_back_from_its_row_and_names_itself(level, text):
    assert LevelId.of_row(level.columns()) == level and level.text() == text
