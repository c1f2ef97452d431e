"""Open-loop cells: per backend and intended rate, what was achieved, latency percentiles, goodput,
whether the load generator kept up, and the highest rate that met the SLO.

A cell is one run's level (one intended rate), its passes pooled. Goodput is the
rate of requests that met the SLO (TTFT and TPOT within `slo`), per second of
pass wall time, as `vllm bench serve --goodput` counts it. The load generator
checks itself: the sending rate it achieved against the rate its schedule drew
(within `RATE_TOLERANCE`), each request's send lag behind its schedule (p99 within
`max(LAG_FLOOR_MS, LAG_SHARE x mean gap)`), and, where the engine runs in another
process (a served backend), the client's own CPU (below `CLIENT_CPU_LIMIT` of a
core). A cell failing any of these measured the client, not the engine: it is
marked invalid with the reason and never chosen as the highest rate meeting the SLO.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..record import Level, Request, RunRecord
from ..stats import percentiles
from .conventions import tpot_ms

RATE_TOLERANCE = 0.10
LAG_FLOOR_MS = 5.0
LAG_SHARE = 0.10
CLIENT_CPU_LIMIT = 0.90
ATTAINMENT_PCT = 90.0  # a rate meets the SLO when at least this share of its requests do


def meets_slo(request: Request, slo: dict) -> bool:
    """TTFT within slo["ttft_ms"] and TPOT within slo["tpot_ms"] (a bound left out is not checked)."""
    ttft, tpot = request.ttft_ms, tpot_ms(request)
    if "ttft_ms" in slo and (ttft is None or ttft > slo["ttft_ms"]):
        return False
    return not ("tpot_ms" in slo and tpot is not None and tpot > slo["tpot_ms"])


def _rate(times_ms: list[float]) -> float | None:
    span = (max(times_ms) - min(times_ms)) / 1000.0 if times_ms else 0.0
    return (len(times_ms) - 1) / span if span > 0 else None


@dataclass
class Cell:
    """One intended rate of one run, its passes pooled. Rates in 1/s, times in ms."""

    rate_per_s: float
    requests: int
    drawn_rate_per_s: float | None  # the rate the schedule actually drew (few requests: far from intended)
    sent_rate_per_s: float | None  # the rate requests were actually sent at
    request_throughput_per_s: float  # completed requests / pass wall time
    output_tokens_per_s: float
    goodput_per_s: float  # requests meeting the SLO / pass wall time
    slo_met_pct: float
    send_lag_p99_ms: float
    client_cpu_pct: float | None  # CPU of the sending process / pass wall time, % of one core
    latency: dict[str, dict[str, float]]  # ttft_ms / tpot_ms / itl_ms / e2e_ms -> p50, p90, p99, mean
    invalid_reasons: list[str]

    @property
    def valid(self) -> bool:
        """True when the load generator kept up."""
        return not self.invalid_reasons


def _latency(requests: list[Request]) -> dict[str, dict[str, float]]:
    samples = {
        "ttft_ms": [r.ttft_ms for r in requests if r.ttft_ms is not None],
        "tpot_ms": [v for r in requests if (v := tpot_ms(r)) is not None],
        "itl_ms": [g for r in requests for g in r.itl_ms],
        "e2e_ms": [r.e2e_ms for r in requests],
    }
    return {k: {**percentiles(v), "mean": float(np.mean(v)) if v else math.nan} for k, v in samples.items()}


def _checks(cell: Cell, mean_gap_ms: float | None, client_only: bool) -> list[str]:
    reasons = []
    if cell.drawn_rate_per_s and cell.sent_rate_per_s:
        shortfall = 1 - cell.sent_rate_per_s / cell.drawn_rate_per_s
        if shortfall > RATE_TOLERANCE:
            reasons.append(
                f"sent {cell.sent_rate_per_s:.3g} req/s against the schedule's {cell.drawn_rate_per_s:.3g}"
            )
    lag_limit = max(LAG_FLOOR_MS, LAG_SHARE * (mean_gap_ms or 0.0))
    if cell.send_lag_p99_ms > lag_limit:
        reasons.append(f"p99 send lag {cell.send_lag_p99_ms:.3g} ms exceeds {lag_limit:.3g} ms")
    if client_only and cell.client_cpu_pct is not None and cell.client_cpu_pct > 100 * CLIENT_CPU_LIMIT:
        reasons.append(f"the client used {cell.client_cpu_pct:.0f} % of a core")
    return reasons


def level_cell(level: Level, slo: dict, client_only: bool) -> Cell:
    """The cell of one open-loop level; `client_only`: the measuring process only sent requests (served)."""
    requests = [r for p in level.passes for r in p.requests]
    wall_s = sum(p.total_ms for p in level.passes) / 1000.0
    per_pass = [p.requests for p in level.passes]
    drawn = [_rate([r.scheduled_ms for r in rs if r.scheduled_ms is not None]) for rs in per_pass]
    sent = [_rate([r.submit_ms for r in rs]) for rs in per_pass]
    lags = [r.submit_ms - r.scheduled_ms for r in requests if r.scheduled_ms is not None]
    cpu = [p.client_cpu_s for p in level.passes]
    good = sum(meets_slo(r, slo) for r in requests)
    cell = Cell(
        rate_per_s=level.rate_per_s,
        requests=len(requests),
        drawn_rate_per_s=_mean(drawn),
        sent_rate_per_s=_mean(sent),
        request_throughput_per_s=len(requests) / wall_s,
        output_tokens_per_s=sum(r.output_tokens for r in requests) / wall_s,
        goodput_per_s=good / wall_s,
        slo_met_pct=100.0 * good / len(requests) if requests else math.nan,
        send_lag_p99_ms=float(np.percentile(lags, 99)) if lags else 0.0,
        client_cpu_pct=None if None in cpu else 100.0 * sum(cpu) / wall_s,
        latency=_latency(requests),
        invalid_reasons=[],
    )
    cell.invalid_reasons = _checks(
        cell, 1000.0 / cell.drawn_rate_per_s if cell.drawn_rate_per_s else None, client_only
    )
    return cell


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def run_cells(record: RunRecord) -> list[Cell]:
    """The cells of an open-loop run record (empty for other scenario types or without a measurement)."""
    if record.measurement is None or record.scenario is None or not record.scenario.slo:
        return []
    client_only = bool(record.backend_info.get("served"))
    return [
        level_cell(lv, record.scenario.slo, client_only)
        for lv in record.measurement.levels
        if lv.rate_per_s is not None
    ]


def highest_rate_meeting_slo(cells: list[Cell], attainment_pct: float = ATTAINMENT_PCT) -> float | None:
    """The highest intended rate whose valid cell had at least `attainment_pct` % of requests within the SLO,
    every valid lower rate meeting it too; None when the lowest rate already misses it."""
    best = None
    for cell in sorted((c for c in cells if c.valid), key=lambda c: c.rate_per_s):
        if cell.slo_met_pct < attainment_pct:
            break
        best = cell.rate_per_s
    return best
