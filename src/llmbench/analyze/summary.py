"""From run records to summary.csv (tidy: one row per run x level x metric), and its one reader.

A level is a concurrency (sweeps), an intended request rate (`rate_per_s`, open loop) or neither.

Statistics are taken on the replication unit: a replica (one fresh process)
when a run has several, else a measured pass. `n`, `mean`, `std` and the 95 %
CI are over those units (`ci_unit` says which); `within_std` is the spread of
pass means inside a process (pooled), `std` with replicas the spread between
processes. Percentiles are of the pooled samples (requests, token gaps) and
left empty where the sample cannot support them (p99 of 15 requests would be
their maximum). A run whose every replica failed has one row, with its reason.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..record import Level, RunKey, RunRecord, flag_text
from ..record.placement import device_clock
from ..stats import UnitStats, percentiles
from .metrics import (
    METRICS,
    PASS_METRICS,
    RUN_METRICS,
    WINDOW_METRICS,
    level_window_values,
    pass_samples,
    process_value,
    run_values,
)

RUN_COLUMNS = [
    "model",
    "backend",
    "scenario",
    "scenario_type",
    "status",
    "device",
    "dtype",
    "replicas",
    "replicas_measured",
    "reason",
    "flags",
    "token_clock",
]
STAT_COLUMNS = [
    "ci_unit",
    "n",
    "mean",
    "std",
    "ci95_low",
    "ci95_high",
    "within_std",
    "passes",
    "samples",
    "min",
    "p50",
    "p90",
    "p99",
    "max",
]
LEVEL_COLUMNS = ["concurrency", "rate_per_s"]  # a level's identity (LevelId); both empty on a run's own row
COLUMNS = [*RUN_COLUMNS, *LEVEL_COLUMNS, "metric", "unit", "per", *STAT_COLUMNS]
TEXT_COLUMNS = [
    "model",
    "backend",
    "scenario",
    "scenario_type",
    "status",
    "device",
    "dtype",
    "reason",
    "flags",
    "token_clock",
    "metric",
    "unit",
    "per",
    "ci_unit",
]


@dataclass(frozen=True)
class LevelId:
    """Which level of a run a row describes: a concurrency (a sweep's), an intended request rate in 1/s
    (an open-loop run's), or neither (the run itself, or the only level of a run of one). Every per-level
    row of summary.csv and of the tables derived from it carries its LevelId in LEVEL_COLUMNS, so a
    run's rows are unique by (metric, level): rows of two rate levels never both read as the run's."""

    concurrency: int | None = None
    rate_per_s: float | None = None

    @classmethod
    def of_level(cls, level: Level | None) -> LevelId:
        """A measured level's identity (None: the run's own)."""
        return cls() if level is None else cls(level.concurrency, level.rate_per_s)

    @classmethod
    def of_row(cls, row) -> LevelId:
        """The identity in a table row (a namedtuple, Series or mapping with LEVEL_COLUMNS; NaN or a
        missing column reads as None)."""
        get = row.get if hasattr(row, "get") else lambda column: getattr(row, column, None)
        concurrency, rate = (None if (v := get(c)) is None or pd.isna(v) else v for c in LEVEL_COLUMNS)
        return cls(None if concurrency is None else int(concurrency), None if rate is None else float(rate))

    @property
    def is_run(self) -> bool:
        """True for the run's own rows (no concurrency, no rate)."""
        return self.concurrency is None and self.rate_per_s is None

    def columns(self) -> dict:
        """The LEVEL_COLUMNS values of a row for this level."""
        return {"concurrency": self.concurrency, "rate_per_s": self.rate_per_s}

    def text(self) -> str:
        """How a table names the level: "4" (concurrency), "0.5/s" (rate), "" (the run)."""
        if self.rate_per_s is not None:
            return f"{self.rate_per_s:g}/s"
        return "" if self.concurrency is None else str(self.concurrency)


def run_level(frame: pd.DataFrame) -> pd.Series:
    """Per row of a frame with LEVEL_COLUMNS: True where it describes the run itself, not one of its levels.
    A column the frame lacks (a table written before open-loop levels had no `rate_per_s`) counts as empty."""
    return frame.reindex(columns=LEVEL_COLUMNS).isna().all(axis=1)


def group_runs(records: Iterable[RunRecord]) -> dict[RunKey, list[RunRecord]]:
    """Records by run key in the order the keys first appear (the workflow's), replicas in order."""
    groups: dict[RunKey, list[RunRecord]] = defaultdict(list)
    for record in records:
        groups[record.key].append(record)
    return {key: sorted(replicas, key=lambda r: r.run) for key, replicas in groups.items()}


def run_status(replicas: list[RunRecord]) -> str:
    """failed: nothing measured; invalid: a replica's lengths were wrong; partial: some
    replicas failed; ok otherwise."""
    statuses = {r.status for r in replicas}
    if statuses == {"failed"}:
        return "failed"
    if "invalid" in statuses:
        return "invalid"
    return "partial" if "failed" in statuses else "ok"


def _labelled(replicas: list[RunRecord], texts) -> str:
    many = len(replicas) > 1
    parts = []
    for record in replicas:
        for text in texts(record):
            parts.append(f"replica {record.run.replica}: {text}" if many else text)
    return "; ".join(dict.fromkeys(parts))


def _stats(
    groups: list[list[list[float]]], replica_values: list[float] | None = None, positive: bool = False
) -> dict:
    """groups: per replica, per pass, the samples. Units are replicas if there are several, each
    `replica_values`' entry (metrics.process_value) or the mean of its pass means. `samples` counts
    distinct values: requests of one batch share one stamp, and percentiles need that many. A
    `positive` metric's CI is UnitStats.of's log-scale interval (never below 0)."""
    replicas = [[p for p in passes if p] for passes in groups]
    kept = [i for i, passes in enumerate(replicas) if passes]
    replicas = [replicas[i] for i in kept]
    pooled = [v for passes in replicas for p in passes for v in p]
    if not pooled:
        return {"n": 0, "samples": 0, "passes": 0}
    pass_means = [[float(np.mean(p)) for p in passes] for passes in replicas]
    if len(replicas) >= 2:
        unit = "replica"
        units = (
            [replica_values[i] for i in kept]
            if replica_values is not None
            else [float(np.mean(m)) for m in pass_means]
        )
    else:
        unit, units = "pass", pass_means[0]
    # one process: its value by the metric's rule (a rate: tokens / time), the passes' spread
    one = unit == "pass" and replica_values is not None and not math.isnan(replica_values[kept[0]])
    stats = UnitStats.of(units, positive, estimate=replica_values[kept[0]] if one else None)
    within = [np.var(m, ddof=1) for m in pass_means if len(m) > 1]
    return {
        "ci_unit": unit,
        "n": stats.n,
        "mean": stats.mean,
        "std": stats.std,
        "ci95_low": stats.ci95_low,
        "ci95_high": stats.ci95_high,
        "within_std": math.sqrt(float(np.mean(within))) if within else math.nan,
        "passes": sum(len(m) for m in pass_means),
        "samples": len(set(pooled)),
        "min": min(pooled),
        **percentiles(pooled),
        "max": max(pooled),
    }


def run_rows(replicas: list[RunRecord]) -> list[dict]:
    """The summary rows of one run key (all its replicas)."""
    first = replicas[0]
    spec = next((r.spec for r in replicas if r.spec), None)
    measured = [r for r in replicas if r.measurement is not None]
    base = {
        "model": first.key.model,
        "backend": first.key.runner,
        "scenario": first.key.scenario,
        "scenario_type": spec.scenario.type if spec else "",
        "status": run_status(replicas),
        "device": next((r.device for r in replicas if r.device), spec.device if spec else ""),
        "dtype": spec.dtype if spec else "",
        "replicas": len(replicas),
        "replicas_measured": len(measured),
        "reason": _labelled(
            replicas,
            lambda r: [r.reason] if r.reason else r.measurement.invalid_reasons[:3] if r.measurement else [],
        ),
        "flags": _labelled(replicas, lambda r: [flag_text(f) for f in r.validity_flags]),
        # "device": token stamps are device times (CUDA events), not when the caller got the token
        "token_clock": "device" if any(device_clock(r.backend_info) for r in replicas) else "host",
    }
    if not measured:
        return [{**base, **LevelId().columns(), "metric": "", "unit": "", "per": ""}]

    def row(name: str, level: Level | None, groups, replica_values=None) -> dict:
        metric = METRICS[name]
        return {
            **base,
            **LevelId.of_level(level).columns(),
            "metric": name,
            "unit": metric.unit,
            "per": metric.per,
            **_stats(groups, replica_values, metric.positive),
        }

    values = [run_values(r) for r in measured]
    rows = [
        row(name, None, [[[v[name]]] if v[name] is not None else [] for v in values]) for name in RUN_METRICS
    ]
    levels = measured[0].measurement.levels
    for index, level in enumerate(levels):
        level_passes = [r.measurement.levels[index].passes for r in measured]
        per_replica = [[pass_samples(p) for p in passes] for passes in level_passes]
        rows += [
            row(
                name,
                level,
                [[s[name] for s in passes] for passes in per_replica],
                [process_value(name, passes) for passes in level_passes],
            )
            for name in PASS_METRICS
        ]
        if len(levels) > 1:  # a sweep's energy, GPU busy and CPU time: per level, never mixed
            windows = [level_window_values(r, index) for r in measured]
            rows += [
                row(name, level, [[[w[name]]] if w[name] is not None else [] for w in windows])
                for name in WINDOW_METRICS
                if any(w[name] is not None for w in windows)  # a record before segments: none
            ]
    return rows


def summary_table(records: Iterable[RunRecord]) -> pd.DataFrame:
    """summary.csv's rows for `records`: one per run key x level x metric (one row for a run whose every
    replica failed), in COLUMNS order, normalized."""
    rows = [row for replicas in group_runs(records).values() for row in run_rows(replicas)]
    return normalize(pd.DataFrame(rows).reindex(columns=COLUMNS))


def normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """One dtype convention for every reader: text columns str ('' when empty),
    concurrency a nullable integer, statistics float."""
    frame = frame.reindex(columns=COLUMNS)
    for column in TEXT_COLUMNS:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), "").astype(str)
    frame["concurrency"] = pd.to_numeric(frame["concurrency"]).astype("Int64")
    frame["rate_per_s"] = pd.to_numeric(frame["rate_per_s"], errors="coerce").astype(float)
    for column in ("replicas", "replicas_measured"):
        frame[column] = pd.to_numeric(frame[column]).astype("Int64")
    for column in STAT_COLUMNS:
        if column != "ci_unit":
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def read_summary(path) -> pd.DataFrame:
    """summary.csv as written by summary_table, with its dtypes."""
    return normalize(
        pd.read_csv(
            path,
            dtype={c: str for c in TEXT_COLUMNS},
            keep_default_na=False,
            na_values={c: [""] for c in STAT_COLUMNS + ["concurrency", "rate_per_s"]},
        )
    )


def unit_stats(row) -> UnitStats:
    """A summary row's replication-unit statistics."""
    return UnitStats(
        int(row["n"]), float(row["mean"]), float(row["std"]), float(row["ci95_low"]), float(row["ci95_high"])
    )
