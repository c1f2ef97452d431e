"""The run record: one way to print and parse a run id, one way to write and read a record."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmbench.record import SCHEMA_VERSION, RunId, RunKey, RunRecord, flag_text, read_record, write_record
from llmbench.report.strings import load_strings
from records import record, scenario

NAMES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,12}", fullmatch=True)


@given(NAMES, NAMES, NAMES, st.integers(0, 999))
def test_a_run_id_prints_and_parses_back(model, backend, name, replica):
    run = RunId(RunKey(model, backend, name), replica)
    assert RunId.parse(str(run)) == run
    assert RunKey.parse(str(run.key)) == run.key
    assert run.path() == f"results/runs/{model}/{backend}/{name}/{replica}.json"


@pytest.mark.parametrize("text", ["m/b/s", "m/b/s/x", "m//s/0", "/b/s/0", "m/b/s/0/1", "m b/b/s/0"])
def test_anything_else_is_not_a_run_id(text):
    with pytest.raises(ValueError, match="not a run id"):
        RunId.parse(text)


@pytest.mark.parametrize("status", ["ok", "invalid", "failed"])
@pytest.mark.parametrize("kind", ["loop", "threads", "fixed", "sweep"])
def test_a_record_survives_json_unchanged(tmp_path, status, kind):
    original = record("hf", kind, scenario(kind, output_tokens=3), status=status, gpu=kind == "sweep")
    write_record(tmp_path / "r.json", original)
    back = read_record(tmp_path / "r.json")
    assert back == original
    assert back.to_dict() == json.loads((tmp_path / "r.json").read_text())


def test_a_record_of_another_schema_version_is_refused_by_name(tmp_path):
    data = record("hf", "loop", scenario("loop")).to_dict() | {"schema_version": SCHEMA_VERSION - 1}
    with pytest.raises(ValueError, match="schema version 1, this llmbench reads 2: rerun it"):
        RunRecord.from_dict(data)


def test_flags_are_data_that_each_language_words():
    flag = {"code": "first_pass_slower", "concurrency": 4, "pct": 23}
    assert flag_text(flag) == (
        "the first measured pass (concurrency 4) was 23 % slower than the median of the "
        "others: warm-up did not warm it"
    )
    zh = load_strings("zh").flags
    assert flag_text(flag, zh) == "第一遍测量（并发 4）比其余几遍的中位数慢 23 %：预热没有预热到位"
    # a scenario without concurrency levels (loop, threads) names none, not "(concurrency –)"
    for level in (None, "–"):  # "–": records written before the level was left empty
        assert flag_text({**flag, "concurrency": level}).startswith("the first measured pass was 23 % slower")
        assert flag_text({**flag, "concurrency": level}, zh).startswith("第一遍测量比其余")


WEIGHTS = st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_]{0,8}", fullmatch=True))


@given(NAMES, NAMES, NAMES, WEIGHTS, st.integers(0, 99))
def test_a_run_on_quantized_weights_prints_and_parses_back_with_its_weights(
    model, backend, name, weights, replica
):
    run = RunId(RunKey(model, backend, name, weights), replica)
    assert RunId.parse(str(run)) == run
    assert RunKey.parse(str(run.key)) == run.key
    segment = backend if weights is None else f"{backend}+{weights}"
    assert run.key.runner == segment
    assert run.path() == f"results/runs/{model}/{segment}/{name}/{replica}.json"


def test_keys_with_and_without_weights_sort_together():
    keys = [RunKey("m", "b", "s", "Q4_0"), RunKey("m", "b", "s"), RunKey("m", "a", "s", "int4")]
    assert sorted(keys) == [
        RunKey("m", "a", "s", "int4"),
        RunKey("m", "b", "s"),
        RunKey("m", "b", "s", "Q4_0"),
    ]
