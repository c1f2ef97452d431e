"""The report's precision section: each backend's floor and quantized runs side by side (speed,
memory, quality, each with its 95 % CI), and one 总结 point per backend ("int4 makes X n× faster
and m× smaller at a cost of …"). Computed in llmbench.analyze.precision; worded here."""

from __future__ import annotations

import pandas as pd

from ..analyze.precision import tradeoffs
from .format import NONE, ci, num, pct, ratio
from .strings import Strings
from .tables import Table


def precision_section(table: pd.DataFrame, manifests: dict[str, dict], t: Strings) -> dict | None:
    """The section's intro, table, notes (random weights, costs above their kind); None without
    quantized runs."""
    if table.empty:
        return None
    single = table.model.nunique() <= 1
    rows = [_row(r, single, t) for r in table.itertuples()]
    notes = []
    if any((m.get("source") or {}).get("source") == "synthetic" for m in manifests.values()):
        notes.append(t.f("precision.random_weights"))
    flagged = table[table.cost_above_kind.fillna(False).astype(bool)]
    if len(flagged):
        notes.append(t.f("precision.flagged", runs=", ".join(flagged.runner)))
    if table.kl_mean.isna().all():
        notes.append(t.f("precision.no_logits"))
    return {
        "intro": t.f("precision.intro"),
        "table": Table(t.precision.headers, ["l", "r", "l", "r", "r", "r", "r", "r", "l"], rows).compact(),
        "notes": notes,
    }


def _row(r, single: bool, t: Strings) -> list[str]:
    label = r.runner if single else f"{r.model} · {r.runner}"
    bits = num(r.bits_per_weight, 2)
    return [
        label,
        bits,
        r.scenario if isinstance(r.scenario, str) else NONE,
        ci(
            r.decode_tok_s,
            r.decode_ci95_low,
            r.decode_ci95_high,
            n=r.decode_n,
            std=r.decode_std,
            unresolved=t.unresolved,
        ),
        ci(
            r.memory_mib,
            r.memory_ci95_low,
            r.memory_ci95_high,
            n=r.memory_n,
            std=r.memory_std,
            unresolved=t.unresolved,
        ),
        _pct_ci(r.top1, r.top1_ci95_low, r.top1_ci95_high),
        _sig(r.kl_mean),
        _sig(r.kl_p99),
        t.f("precision.flag") if r.cost_above_kind in (True, "True") else "",
    ]


def _direction(value: tuple, up: str, down: str, t: Strings) -> str:
    """`value` (ratio, low, high) said as `up` when >= 1, else its inverse said as `down`."""
    r, low, high = value
    if pd.isna(r) or r >= 1:
        return t.f(f"precision.{up}", ratio=ratio(r, low, high))
    return t.f(f"precision.{down}", ratio=ratio(1 / r, 1 / high if high else None, 1 / low if low else None))


def _sig(value) -> str:
    """A KL divergence in nats to two significant digits (they span 1e-8 to 1)."""
    return NONE if pd.isna(value) else f"{value:.2g}"


def _pct_ci(mean, low, high) -> str:
    if pd.isna(low) or pd.isna(high):
        return pct(mean)
    return f"{mean * 100:.1f} % ({low * 100:.1f}–{high * 100:.1f})"


def precision_points(table: pd.DataFrame, t: Strings) -> list[str]:
    """One 总结 point per backend with quantized runs: its fewest-bits run against its floor."""
    points = []
    for d in tradeoffs(table):
        kl = "" if pd.isna(d["kl_mean"]) else t.f("precision.point_kl", kl=_sig(d["kl_mean"]))
        points.append(
            t.f(
                "precision.point",
                backend=d["backend"],
                weights=d["weights"],
                speed=_direction(d["speedup"], "faster", "slower", t),
                size=_direction(d["smaller"], "smaller", "larger", t),
                top1=pct(d["top1"]),
                floor=pct(d["top1_floor"]),
                kl=kl,
            )
        )
    return points
