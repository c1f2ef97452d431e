"""Correctness before speed: does each backend compute what the model computes?

Two checks on every run's greedy outputs (first measured pass, same prompt ids
for every backend):

* against the reference backend's outputs, position by position: the first
  divergence and the agreeing prefix (what the article's reader would compare);
* teacher-forced against the reference model in float32: the model is run over
  prompt + the backend's own output, and each output token is checked to be the
  model's argmax given that same prefix. Rounding (fp16 kernels) flips only
  near-ties, so nearly every token stays an argmax and the misses have tiny logit
  gaps; a wrong kernel picks tokens far from the argmax. Measured on the H100 with
  the 6 B-shaped model: outputs of FastLLM fp16 and HF fp32 diverge after 2-9
  tokens, yet FastLLM's token at the divergence trailed the fp32 argmax by only
  0.017-0.051 logits (median top-1/top-2 gap 0.17-0.24): near-ties.
"""

from __future__ import annotations

from collections.abc import Callable

from .scenarios import levels

COLUMNS = [
    "model", "scenario", "backend", "reference", "query_index", "tokens",
    "first_divergence", "prefix_agreement", "token_agreement",
    "forced_agreement", "forced_first_miss", "forced_max_gap", "forced_top12_median",
]  # fmt: skip


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


def first_pass_outputs(result: dict) -> dict[int, list[int]]:
    """Output ids per query of the first measured pass (of the first level, for a sweep)."""
    first = levels(result["measurement"])[0]["repetitions"][0]
    return {r["query_index"]: r["output_ids"] for r in first["requests"]}


def forced_check(logits_of: Callable[[list[int]], object], prompt: list[int], output: list[int]) -> dict:
    """Teacher-forced check of `output` under the reference model.

    `logits_of(ids)` returns the reference model's logits (a torch tensor,
    positions x vocab) for the sequence `ids`."""
    import torch

    logits = logits_of(prompt + output)[len(prompt) - 1 : len(prompt) - 1 + len(output)].float()
    top2 = logits.topk(2, dim=-1).values
    chosen = logits.gather(1, torch.tensor(output, device=logits.device)[:, None])[:, 0]
    gaps = top2[:, 0] - chosen  # 0 where the output token is the argmax (ties included)
    misses = (gaps > 0).nonzero()
    return {
        "forced_agreement": float((gaps <= 0).float().mean()),
        "forced_first_miss": int(misses[0, 0]) if len(misses) else None,
        "forced_max_gap": float(gaps.max()),
        "forced_top12_median": float((top2[:, 0] - top2[:, 1]).median()),
    }


def agreement_rows(
    results: list[dict],
    prompts: list[list[int]],
    reference: str,
    logits_of: Callable[[list[int]], object] | None = None,
) -> list[dict]:
    """One row per (scenario, backend, query) of one model's runs; `prompts` are the
    query prompts, for results that do not record their own."""
    ok = [r for r in results if r.get("status") in ("ok", "invalid")]
    references = {
        r["spec"]["scenario_name"]: first_pass_outputs(r) for r in ok if r["spec"]["backend"] == reference
    }
    rows = []
    for result in ok:
        spec = result["spec"]
        expected = references.get(spec["scenario_name"], {})
        for index, ids in sorted(first_pass_outputs(result).items()):
            row = {
                "model": spec["model"], "scenario": spec["scenario_name"], "backend": spec["backend"],
                "reference": reference, "query_index": index, "tokens": len(ids),
                "first_divergence": None, "prefix_agreement": None, "token_agreement": None,
            }  # fmt: skip
            if spec["backend"] != reference and index in expected:
                row.update(compare_sequences(expected[index], ids))
            if logits_of is not None:
                prompt = (result["measurement"].get("prompts") or prompts)[index]
                row.update(forced_check(logits_of, prompt, ids))
            rows.append(row)
    return rows


def verdicts(table, min_forced_agreement: float):
    """Per (model, scenario, backend): identical outputs, agreements, and whether it disagrees.

    A backend disagrees when fewer than `min_forced_agreement` of its tokens are the
    reference model's argmax given the backend's own prefix."""
    import pandas as pd

    keys = ["model", "scenario", "backend", "reference"]
    if table.empty:
        return pd.DataFrame(columns=[*keys, "queries", "identical", "prefix_agreement", "forced_agreement",
                                     "forced_max_gap", "earliest_divergence", "disagrees"])  # fmt: skip
    table = table.assign(identical=table["first_divergence"].isna() & table["prefix_agreement"].notna())
    summary = (
        table.groupby(keys, sort=False)
        .agg(
            queries=("query_index", "size"),
            identical=("identical", "sum"),
            prefix_agreement=("prefix_agreement", "mean"),
            forced_agreement=("forced_agreement", "mean"),
            forced_max_gap=("forced_max_gap", "max"),
            earliest_divergence=("first_divergence", "min"),
        )
        .reset_index()
    )
    summary["disagrees"] = summary["forced_agreement"] < min_forced_agreement
    return summary


def reference_logits(
    model_dir: str, dtype: str, device: str, cpu_threads: int
) -> Callable[[list[int]], object]:
    """The reference model (transformers, `dtype`, on `device`) as a function ids -> logits."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(cpu_threads)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype)).to(device).eval()

    def logits_of(ids: list[int]):
        with torch.inference_mode():
            return model(torch.tensor([ids], device=device)).logits[0]

    return logits_of
