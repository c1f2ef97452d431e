"""The host's state: a canary before each process, steal, clock and load per measured window."""

import pytest

from llmbench.measure import host
from llmbench.measure.worker import validity_flags
from llmbench.record import RunId, RunKey, RunRecord
from records import record, scenario


def test_the_canary_times_the_same_work_and_more_work_takes_longer():
    small, large = host.canary_ms(20_000, 3), host.canary_ms(200_000, 3)
    assert 0 < small < large


def test_a_window_says_the_share_of_cpu_time_stolen_its_clock_and_load():
    start = {"ticks": (100, 10_000), "cpu_mhz": 2000.0, "load_1m": 0.5}
    end = {"ticks": (400, 12_000), "cpu_mhz": 2400.0, "load_1m": 3.0}
    state = host.window_state(start, end)
    assert state == {"steal_pct": pytest.approx(15.0), "cpu_mhz": 2200.0, "load_1m": 3.0}
    assert host.window_state({"ticks": None}, {"ticks": None})["steal_pct"] is None
    now = host.snapshot()  # this machine: Linux, /proc present
    assert now["ticks"] is not None and now["load_1m"] is not None


@pytest.mark.parametrize("steal, flagged", [(0.0, False), (4.9, False), (5.0, True), (30.0, True)])
@pytest.mark.parametrize("there_and_back", [False, True])
def test_a_level_whose_window_had_cpu_time_stolen_is_flagged(steal, flagged, there_and_back):
    """A sweep visits its levels there and back (1, 4, 4, 1): the third segment is level 4's too."""
    sweep = scenario("sweep", output_tokens=4, input_tokens=8, concurrency=[1, 4])
    run = record("hf", "sweep", sweep, gpu=True)
    if there_and_back:
        run.resources.segments += [dict(s) for s in reversed(run.resources.segments)]
    for segment in run.resources.segments:
        segment["host"] = {"steal_pct": 0.0}
    run.resources.segments[2 if there_and_back else 1]["host"] = {"steal_pct": steal}
    flags = [f for f in validity_flags(run) if f["code"] == "host_steal"]
    assert flags == ([{"code": "host_steal", "pct": round(steal), "concurrency": 4}] if flagged else [])


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_process_whose_canary_ran_slow_is_named_as_a_slow_host(language):
    """hf's loop processes decoded 23.2, 33.6 and 29.7 tok/s at the same cores: the host's speed."""
    import pandas as pd

    from llmbench.report.limits import Facts, slow_host
    from llmbench.report.strings import load_strings

    t = load_strings(language)

    def notes(records):
        return slow_host(Facts(records, {}, pd.DataFrame(), pd.DataFrame(), {}, "hf", t))

    records = [
        RunRecord(run=RunId(RunKey("m", "hf", "loop"), i), spec=None, status="ok", host={"canary_ms": ms})
        for i, ms in enumerate([10.0, 10.5, 9.8, 14.0])
    ]
    (note,) = notes(records)
    assert "m/hf/loop/3" in note and "/0 " not in note and "/1 " not in note
    assert notes(records[:3]) == []
    assert notes([RunRecord(run=r.run, spec=None, status="ok") for r in records]) == []
