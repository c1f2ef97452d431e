"""The open-loop pass runner: sends on schedule whatever the engine's pace, caps what is in flight.

The engine here is a stand-in that sleeps: what is under test is the load generator, whose behaviour must not
depend on what the engine computes (the real engines run it in the workflow tests)."""

import threading
import time

import pytest

from llmbench.analyze.openloop import highest_rate_meeting_slo, level_cell
from llmbench.backends.base import Generation
from llmbench.measure.passes import now, run_open_loop
from llmbench.record import Level, Pass, Request
from llmbench.scenario_types import Scenario


class SleepingEngine:
    """Takes `service_s` per request, `tokens` stamps evenly spread; counts requests in flight."""

    def __init__(self, service_s: float, slots: int = 1000):
        self.service_s, self.lock, self.in_flight, self.most = service_s, threading.Lock(), 0, 0
        self.slots = threading.Semaphore(slots)

    def generate(self, prompt, n):
        with self.slots:
            start = now()
            with self.lock:
                self.in_flight += 1
                self.most = max(self.most, self.in_flight)
            times = []
            for _ in range(n):
                time.sleep(self.service_s / n)
                times.append(now())
            with self.lock:
                self.in_flight -= 1
            return Generation(list(range(n)), start, times, now())


def scenario(**over) -> Scenario:
    values = dict(
        type="open-loop",
        output_tokens=4,
        warmup_passes=0,
        repetitions=1,
        min_duration_s=0,
        target_ci_pct=None,
        max_duration_s=10,
        replicas=1,
        input_tokens=4,
        requests=12,
        seed=3,
        rates=[20.0],
        burstiness=1.0,
        max_concurrency=None,
        slo={"ttft_ms": 100, "tpot_ms": 50},
    )
    return Scenario.from_dict({**values, **over})


def level(p: Pass, rate: float) -> Level:
    return Level(None, 0, [p], "repetitions", None, 1.0, rate_per_s=rate)


def test_requests_are_sent_on_schedule_while_a_slow_engine_lets_them_pile_up():
    engine = SleepingEngine(service_s=0.4)
    s = scenario()
    p = run_open_loop(engine, [[5] * 4] * s.requests, s, 20.0)
    lags = [r.submit_ms - r.scheduled_ms for r in p.requests]
    assert max(lags) < 30  # loose: a shared two-core machine; the drawn gaps average 50 ms
    assert engine.most > 3  # open loop: arrivals did not wait for completions
    cell = level_cell(level(p, 20.0), s.slo, client_only=False)
    assert cell.sent_rate_per_s == pytest.approx(cell.drawn_rate_per_s, rel=0.10)
    assert cell.valid, cell.invalid_reasons
    assert cell.requests == 12 and cell.output_tokens_per_s > 0


def test_max_concurrency_caps_what_is_in_flight_and_the_wait_counts_in_ttft():
    engine = SleepingEngine(service_s=0.2)
    s = scenario(max_concurrency=2, requests=8, rates=[50.0])
    p = run_open_loop(engine, [[5] * 4] * s.requests, s, 50.0)
    assert engine.most == 2
    waited = [r for r in p.requests if r.queue_ms > 50]
    assert waited and all(r.ttft_ms > r.queue_ms for r in waited)


def request(ttft, tpot, submit, scheduled, n=5) -> Request:
    return Request(
        0,
        4,
        list(range(n)),
        submit,
        0.0,
        ttft,
        ttft + tpot * (n - 1),
        [tpot] * (n - 1),
        scheduled_ms=scheduled,
    )


def test_goodput_counts_the_requests_within_both_bounds_per_second():
    slo = {"ttft_ms": 100, "tpot_ms": 20}
    requests = [
        request(50, 10, 0, 0),
        request(150, 10, 100, 100),
        request(50, 30, 200, 200),
        request(90, 19, 300, 300),
    ]
    cell = level_cell(level(Pass(2000.0, requests), 2.0), slo, client_only=True)
    assert cell.goodput_per_s == pytest.approx(2 / 2.0)
    assert cell.slo_met_pct == pytest.approx(50.0)
    assert cell.request_throughput_per_s == pytest.approx(4 / 2.0)


def test_a_cell_where_the_client_fell_behind_or_burned_its_core_is_invalid_and_never_the_best_rate():
    slo = {"ttft_ms": 100, "tpot_ms": 20}
    on_time = [request(50, 10, 100 * i, 100 * i) for i in range(10)]
    late = [request(50, 10, 100 * i + 40, 100 * i) for i in range(10)]
    behind = [request(50, 10, 300 * i, 100 * i) for i in range(10)]
    good = level_cell(level(Pass(1000.0, on_time, client_cpu_s=0.1), 10.0), slo, client_only=True)
    lagged = level_cell(level(Pass(1000.0, late, client_cpu_s=0.1), 20.0), slo, client_only=True)
    slow = level_cell(level(Pass(3000.0, behind, client_cpu_s=0.1), 30.0), slo, client_only=True)
    busy = level_cell(level(Pass(1000.0, on_time, client_cpu_s=0.95), 40.0), slo, client_only=True)
    in_process = level_cell(level(Pass(1000.0, on_time, client_cpu_s=0.95), 40.0), slo, client_only=False)
    assert good.valid and in_process.valid
    assert any("send lag" in r for r in lagged.invalid_reasons)
    assert any("sent" in r for r in slow.invalid_reasons)
    assert any("core" in r for r in busy.invalid_reasons)
    assert highest_rate_meeting_slo([good, lagged, slow, busy]) == 10.0


def test_the_highest_rate_meeting_the_slo_stops_at_the_first_rate_that_misses_it():
    slo = {"ttft_ms": 100, "tpot_ms": 20}

    def cell(rate, ttft):
        return level_cell(level(Pass(1000.0, [request(ttft, 10, 0, 0)]), rate), slo, client_only=False)

    assert highest_rate_meeting_slo([cell(1, 50), cell(2, 60), cell(4, 500), cell(8, 50)]) == 2
    assert highest_rate_meeting_slo([cell(1, 500), cell(2, 50)]) is None
