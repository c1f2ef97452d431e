"""Correctness before speed: do the backends produce the same greedy tokens?

Every backend receives the same prompt ids and decodes greedily, so its output
ids can be compared with a reference backend's, position by position. After the
first divergence the contexts differ and later positions say little, so the
main figure is the agreeing prefix; a tolerance is needed because fp rounding on
random weights can flip a near-tie late in a sequence.
"""

from __future__ import annotations

import pandas as pd

COLUMNS = [
    "model",
    "scenario",
    "backend",
    "reference",
    "query_index",
    "tokens",
    "first_divergence",
    "prefix_agreement",
    "token_agreement",
]


def compare_sequences(reference: list[int], candidate: list[int]) -> dict:
    """First differing position (None if identical), agreeing-prefix and positional fractions."""
    length = len(reference)
    first = next((i for i, (a, b) in enumerate(zip(reference, candidate, strict=False)) if a != b), None)
    if first is None and len(candidate) != length:
        first = min(length, len(candidate))
    matches = sum(a == b for a, b in zip(reference, candidate, strict=False))
    return {
        "tokens": length,
        "first_divergence": first,
        "prefix_agreement": (length if first is None else first) / length if length else 1.0,
        "token_agreement": matches / length if length else 1.0,
    }


def _outputs(result: dict) -> dict[int, list[int]]:
    """Output ids per query of the first measured pass."""
    first_pass = result["measurement"]["repetitions"][0]["requests"]
    return {r["query_index"]: r["output_ids"] for r in first_pass}


def agreement_table(results: list[dict], reference: str) -> pd.DataFrame:
    """One row per (model, scenario, backend, query): the backend vs the reference backend."""
    ok = [r for r in results if r.get("status") in ("ok", "invalid")]
    references = {
        (r["spec"]["model"], r["spec"]["scenario_name"]): _outputs(r)
        for r in ok
        if r["spec"]["backend"] == reference
    }
    rows = []
    for result in ok:
        spec = result["spec"]
        key = (spec["model"], spec["scenario_name"])
        if spec["backend"] == reference or key not in references:
            continue
        for index, ids in sorted(_outputs(result).items()):
            expected = references[key].get(index)
            if expected is None:
                continue
            rows.append(
                {
                    "model": key[0],
                    "scenario": key[1],
                    "backend": spec["backend"],
                    "reference": reference,
                    "query_index": index,
                    **compare_sequences(expected, ids),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def verdicts(table: pd.DataFrame, min_prefix_agreement: float) -> pd.DataFrame:
    """Per (model, scenario, backend): identical queries, mean agreements, and whether it disagrees."""
    if table.empty:
        return pd.DataFrame(
            columns=[
                "model",
                "scenario",
                "backend",
                "reference",
                "queries",
                "identical",
                "prefix_agreement",
                "token_agreement",
                "earliest_divergence",
                "disagrees",
            ]
        )
    grouped = table.groupby(["model", "scenario", "backend", "reference"], sort=False)
    summary = grouped.agg(
        queries=("query_index", "size"),
        identical=("first_divergence", lambda s: int(s.isna().sum())),
        prefix_agreement=("prefix_agreement", "mean"),
        token_agreement=("token_agreement", "mean"),
        earliest_divergence=("first_divergence", "min"),
    ).reset_index()
    summary["disagrees"] = summary["prefix_agreement"] < min_prefix_agreement
    return summary
