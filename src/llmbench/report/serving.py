"""The report's serving block: open-loop cells per backend and rate, goodput, the highest rate meeting the SLO,
TPOT/ITL as each serving benchmark would print them, and what a server costs over its in-process engine.

Everything is read from the run records (analyze.openloop, analyze.conventions); a
served backend names its engine in `describe()` (`engine`), so nothing here lists backends.
"""

from __future__ import annotations

import math

import numpy as np

from ..analyze.conventions import CONVENTIONS, chunks, convention_samples
from ..analyze.openloop import Cell, highest_rate_meeting_slo, run_cells
from ..analyze.summary import group_runs
from ..record import RunRecord
from .format import NONE, num
from .strings import Strings
from .tables import Table


def open_loop_cells(records: list[RunRecord]) -> dict[tuple[str, str, str], list[Cell]]:
    """(model, runner, scenario) -> the cells of its measured replicas, rates in order."""
    out: dict[tuple[str, str, str], list[Cell]] = {}
    for key, replicas in group_runs(records).items():
        cells = [c for r in replicas for c in run_cells(r)]
        if cells:
            out[(key.model, key.runner, key.scenario)] = sorted(cells, key=lambda c: c.rate_per_s)
    return out


def _ms(value: float) -> str:
    return NONE if value is None or math.isnan(value) else num(value)


def open_loop_table(cells: dict, t: Strings) -> Table:
    """One row per backend x intended rate: achieved rates, throughput, goodput, latency percentiles, validity."""
    h = t.serving.headers
    table = Table(
        [
            h.backend,
            h.rate,
            h.sent,
            h.throughput,
            h.output,
            h.goodput,
            h.slo_met,
            h.ttft,
            h.tpot,
            h.itl,
            h.e2e,
            h.lag,
            h.valid,
        ],
        ["l"] + ["r"] * 11 + ["l"],
    )
    for (_, backend, _), backend_cells in cells.items():
        for c in backend_cells:
            lat = c.latency
            table.rows.append(
                [
                    backend,
                    num(c.rate_per_s),
                    _ms(c.sent_rate_per_s),
                    num(c.request_throughput_per_s),
                    num(c.output_tokens_per_s),
                    num(c.goodput_per_s),
                    f"{c.slo_met_pct:.0f} %",
                    f"{_ms(lat['ttft_ms']['p50'])} / {_ms(lat['ttft_ms']['p90'])}",
                    f"{_ms(lat['tpot_ms']['p50'])} / {_ms(lat['tpot_ms']['p90'])}",
                    f"{_ms(lat['itl_ms']['p50'])} / {_ms(lat['itl_ms']['p99'])}",
                    f"{_ms(lat['e2e_ms']['p50'])} / {_ms(lat['e2e_ms']['p90'])}",
                    num(c.send_lag_p99_ms),
                    t.serving.valid
                    if c.valid
                    else t.f("serving.invalid", reasons="; ".join(c.invalid_reasons)),
                ]
            )
    return table


def slo_sentences(cells: dict, slos: dict[str, dict], t: Strings) -> list[str]:
    """Per backend: the highest intended rate at which the SLO held, or that it held at none."""
    lines = []
    for (_, backend, scenario), backend_cells in cells.items():
        slo = slos[scenario]
        best = highest_rate_meeting_slo(backend_cells)
        bounds = t.f("serving.slo", ttft=num(slo.get("ttft_ms")), tpot=num(slo.get("tpot_ms")))
        if best is None:
            lines.append(t.f("serving.slo_never", backend=backend, slo=bounds))
        else:
            lines.append(t.f("serving.slo_best", backend=backend, slo=bounds, rate=num(best)))
    return lines


def _open_loop_requests(records: list[RunRecord]) -> dict[str, list]:
    """runner -> the requests of its open-loop (rate) levels, every replica and pass pooled."""
    by_backend: dict[str, list] = {}
    for r in records:
        for level in r.measurement.levels if r.measurement else []:
            if level.rate_per_s is not None:
                by_backend.setdefault(r.key.runner, []).extend(q for p in level.passes for q in p.requests)
    return by_backend


def one_chunk_sentences(records: list[RunRecord], t: Strings) -> list[str]:
    """Per runner some of whose open-loop requests of several tokens arrived in one chunk (every token after
    the first stamped with the first): how many, since their TPOT and ITLs of 0 in the table are the token
    stamps' granularity (one poll of the engine, one read of the stream) or tokens sent together, not a
    free decode."""
    lines = []
    for backend, requests in _open_loop_requests(records).items():
        several = [q for q in requests if q.output_tokens > 1 and chunks(q)]
        together = sum(len(chunks(q)) == 1 for q in several)
        if together:
            share = f"{100.0 * together / len(several):.0f} %"
            lines.append(t.f("serving.one_chunk", backend=backend, share=share, n=len(several)))
    return lines


def conventions_table(records: list[RunRecord], t: Strings) -> Table:
    """Per backend (open-loop requests pooled): TPOT and ITL as each tool defines them, mean and p99 in ms."""
    h = t.serving.headers
    tools = list(CONVENTIONS)
    table = Table([h.backend, h.quantity, *tools], ["l", "l"] + ["r"] * len(tools))
    for backend, requests in _open_loop_requests(records).items():
        samples = convention_samples(requests)
        for quantity in ("tpot_ms", "itl_ms"):
            for stat, fn in (("mean", np.mean), ("p99", lambda v: np.percentile(v, 99))):
                cells = [
                    _ms(float(fn(samples[tool][quantity]))) if samples[tool][quantity] else NONE
                    for tool in tools
                ]
                table.rows.append([backend, f"{t.serving.quantities[quantity]} {stat}", *cells])
    return table


# What a server and its in-process engine must both report alike for the cost line to be the serving layer's
# (describe(): fastllm's and ftllm serve's threads; llama.cpp's threads and KV cache type).
SAME_ENGINE_WORK = ("cpu_threads", "kv_type")


def server_costs(records: list[RunRecord], t: Strings) -> list[str]:
    """For each served backend whose engine ran the same batch-1 scenario in-process: how much longer the
    served pass took (ratio of mean pass wall times over every measured pass, in %), or, where the server
    and the engine reported different SAME_ENGINE_WORK settings, which ones instead of a figure."""
    wall: dict[tuple[str, str, str], list[float]] = {}
    facts: dict[tuple[str, str, str], dict] = {}
    engine_of: dict[str, str] = {}
    for r in records:
        if r.measurement is None or r.scenario is None or r.scenario.kind.concurrent(r.scenario, None) != 1:
            continue
        if r.backend_info.get("engine"):
            engine_of[r.key.runner] = r.backend_info["engine"]
        key = (r.key.model, r.key.runner, r.key.scenario)
        wall.setdefault(key, []).extend(p.total_ms for p in r.measurement.passes())
        facts.setdefault(key, {k: r.backend_info[k] for k in SAME_ENGINE_WORK if k in r.backend_info})
    lines = []
    for (model, backend, scenario), served in wall.items():
        engine = engine_of.get(backend)
        own = wall.get((model, engine, scenario))
        if not (engine and own):
            continue
        mine, theirs = facts[(model, backend, scenario)], facts[(model, engine, scenario)]
        differ = [f"{k} {mine[k]} / {theirs[k]}" for k in mine if k in theirs and mine[k] != theirs[k]]
        if differ:
            lines.append(
                t.f(
                    "serving.cost_unequal",
                    backend=backend,
                    engine=engine,
                    scenario=scenario,
                    what=", ".join(differ),
                )
            )
            continue
        cost = 100.0 * (np.mean(served) / np.mean(own) - 1.0)
        lines.append(
            t.f("serving.cost", backend=backend, engine=engine, scenario=scenario, pct=f"{cost:+.1f}")
        )
    return lines


def serving_context(records: list[RunRecord], t: Strings) -> dict:
    """The serving block's tables and sentences (empty when no open-loop or served run was measured)."""
    cells = open_loop_cells(records)
    slos = {r.key.scenario: r.scenario.slo for r in records if r.scenario is not None and r.scenario.slo}
    return {
        "open_loop": open_loop_table(cells, t) if cells else None,
        "slo_sentences": slo_sentences(cells, slos, t),
        "one_chunk": one_chunk_sentences(records, t) if cells else [],
        "conventions": conventions_table(records, t) if cells else None,
        "costs": server_costs(records, t),
    }
