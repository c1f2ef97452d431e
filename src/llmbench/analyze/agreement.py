"""Correctness before speed: does each backend compute what the model computes?

Every output of every measured pass (all levels, all replicas) is checked, each
distinct (prompt, output) once:

* against the reference backend's output for the same prompt and level, position
  by position: the first divergence and the agreeing prefix;
* teacher-forced under the reference model (float32 by default): the model runs
  over prompt + the backend's own output, and each output token is checked to be
  the argmax given that same prefix, under the rule that generated it - EOS masked,
  since every backend generates with EOS masked until the asked length. Rounding
  flips only near-ties (tiny logit gaps); a wrong kernel picks tokens far from
  the argmax. Measured on the H100 with the 6 B-shaped model: FastLLM fp16 and HF
  fp32 outputs diverge after 2-9 tokens, yet FastLLM's token at the divergence
  trailed the fp32 argmax by only 0.017-0.051 logits: near-ties.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from ..record import RunRecord, split_runner

COLUMNS = [
    "model",
    "scenario",
    "backend",
    "reference",
    "concurrency",
    "query_index",
    "occurrences",
    "tokens",
    "first_divergence",
    "prefix_agreement",
    "token_agreement",
    "forced_agreement",
    "forced_first_miss",
    "forced_max_gap",
    "forced_top12_median",
    "kl_mean",
    "kl",
]
VERDICT_COLUMNS = [
    "model",
    "scenario",
    "backend",
    "reference",
    "outputs",
    "identical",
    "prefix_agreement",
    "forced_agreement",
    "forced_max_gap",
    "earliest_divergence",
    "gap_p50",
    "gap_p90",
    "null_max_gap",
    "beyond_null",
    "near_ties",
    "disagrees",
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


@dataclass
class Reference:
    """The reference model as a function ids -> logits (positions x vocab), and the
    EOS ids generation masked."""

    logits: Callable[[list[int]], object]
    eos_ids: list[int]


def forced_check(reference: Reference, prompt: list[int], output: list[int]) -> dict:
    """Teacher-forced check of `output`: at each position, is the token the reference
    argmax given the same prefix, with EOS masked as in generation?"""
    import torch

    logits = (
        reference.logits(prompt + output)[len(prompt) - 1 : len(prompt) - 1 + len(output)].float().clone()
    )
    if reference.eos_ids:
        logits[:, reference.eos_ids] = float("-inf")
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


def kl_divergence(
    reference: Reference, candidate: Callable, prompt: list[int], output: list[int]
) -> list[float]:
    """KL(reference || candidate) of the next-token distribution at each output position, teacher-
    forced on prompt + output, EOS excluded from both (generation masks it); nats, one per token.
    `candidate` maps ids to logits (positions x vocab, numpy or torch), as Backend.teacher_forced_logits."""
    import torch

    ids = prompt + output
    window = slice(len(prompt) - 1, len(prompt) - 1 + len(output))
    p = reference.logits(ids)[window].float().cpu()
    q = torch.as_tensor(candidate(ids))[window].float()
    keep = torch.ones(p.shape[-1], dtype=torch.bool)
    keep[reference.eos_ids] = False
    log_p = torch.log_softmax(p[:, keep], dim=-1)
    log_q = torch.log_softmax(q[:, keep], dim=-1)
    return (log_p.exp() * (log_p - log_q)).sum(-1).clamp(min=0).tolist()


def _outputs(record: RunRecord) -> Counter:
    """(concurrency, query index, prompt, output) -> how many passes produced it."""
    counts: Counter = Counter()
    prompts = record.measurement.prompts
    for level in record.measurement.levels:
        for p in level.passes:
            for r in p.requests:
                counts[
                    (level.concurrency, r.query_index, tuple(prompts[r.query_index]), tuple(r.output_ids))
                ] += 1
    return counts


def agreement_table(
    records: list[RunRecord],
    reference_backend: str,
    reference: Reference | None,
    candidates: dict[str, Callable] | None = None,
) -> pd.DataFrame:
    """One row per distinct output of each (scenario, backend, level, query) of one model.
    `candidates`: runner -> its own logits function (Backend.teacher_forced_logits); each of its
    outputs gets the per-token KL divergence from the reference (`kl`, ";"-joined) and its mean."""
    measured = [r for r in records if r.measurement is not None]
    expected: dict[tuple, list[int]] = {}
    for record in sorted(measured, key=lambda r: r.run):
        if record.key.runner == reference_backend:
            for (level, query, _, output), _count in _outputs(record).most_common():
                expected.setdefault((record.key.scenario, level, query), list(output))
    counts: dict[tuple, Counter] = {}
    for record in measured:
        counts.setdefault(record.key, Counter()).update(_outputs(record))
    forced: dict[tuple, dict] = {}
    rows = []
    for key, outputs in sorted(counts.items()):
        for (level, query, prompt, output), occurrences in sorted(outputs.items(), key=lambda x: x[0][:2]):
            row = {
                "model": key.model,
                "scenario": key.scenario,
                "backend": key.runner,
                "reference": reference_backend,
                "concurrency": level,
                "query_index": query,
                "occurrences": occurrences,
                "tokens": len(output),
            }
            target = expected.get((key.scenario, level, query))
            if key.runner != reference_backend and target is not None:
                row.update(compare_sequences(target, list(output)))
            if reference is not None:
                if (prompt, output) not in forced:
                    forced[(prompt, output)] = forced_check(reference, list(prompt), list(output))
                row.update(forced[(prompt, output)])
                candidate = (candidates or {}).get(key.runner)
                if candidate is not None and output:
                    kl = kl_divergence(reference, candidate, list(prompt), list(output))
                    row["kl_mean"] = sum(kl) / len(kl)
                    row["kl"] = ";".join(f"{v:.6g}" for v in kl)
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def verdicts(table: pd.DataFrame, min_forced_agreement: float, near_tie_ratio: float = 1.0) -> pd.DataFrame:
    """Per (model, scenario, backend): outputs checked, how many are identical to the
    reference backend's, agreements, gap quantiles, and the verdicts.

    - `disagrees` (computes wrongly): its tokens are the reference argmax less often than
      `min_forced_agreement` and a miss trails the argmax by more than `near_tie_ratio` times
      the median lead of the argmax over the runner-up.
    - `beyond_null`, whatever the agreement rate: its largest miss exceeds the null, the largest
      miss of the reference backend itself (`null_max_gap`, over every scenario of the model),
      which runs in the run dtype and is teacher-forced under the reference model (e.g. hf fp16
      against fp32): rounding of the run dtype, as torch does it, misses by no more. NaN null
      (no reference backend outputs checked): never flagged, the null is unknown.
    - `near_ties`: below the agreement threshold, but every miss within both bounds.

    `gap_p50`, `gap_p90`: quantiles over the distinct outputs of each output's largest miss (0 for
    an output that is the argmax throughout).

    Measured: on the H200, hf fp16 missed the fp32 argmax by at most 0.031 logits; FastLLM fp16
    at batch 32 matched it for 89.9 % of its tokens with misses up to 0.165 logits (median lead
    0.21): within the near-tie bound, beyond the null. FastLLM's CPU library, which rotates
    ChatGLM2's heads over the wrong width, missed by up to 0.173 logits where the median lead
    was 0.033 (chatglm2-tiny).

    Runs on quantized weights (``backend+format``) get no verdict: quantization moves tokens by
    design, neither a wrong computation nor rounding; llmbench.analyze.precision judges them by
    their quality cost."""
    if not table.empty:
        table = table[table["backend"].map(lambda runner: split_runner(runner)[1] is None).astype(bool)]
    if table.empty:
        return pd.DataFrame(columns=VERDICT_COLUMNS)
    table = table.assign(
        identical=(table["first_divergence"].isna() & table["prefix_agreement"].notna())
        * table["occurrences"],
        weighted=table["forced_agreement"] * table["occurrences"],
    )
    keys = ["model", "scenario", "backend", "reference"]
    summary = (
        table.groupby(keys, sort=False)
        .agg(
            outputs=("occurrences", "sum"),
            identical=("identical", "sum"),
            weighted=("weighted", "sum"),
            prefix_agreement=("prefix_agreement", "mean"),
            forced_max_gap=("forced_max_gap", "max"),
            gap_p50=("forced_max_gap", lambda g: g.quantile(0.5)),
            gap_p90=("forced_max_gap", lambda g: g.quantile(0.9)),
            earliest_divergence=("first_divergence", "min"),
            checked=("forced_agreement", "count"),
            lead=("forced_top12_median", "median"),
        )
        .reset_index()
    )
    null = table[table["backend"] == table["reference"]].groupby("model")["forced_max_gap"].max()
    summary["null_max_gap"] = summary["model"].map(null).astype(float)
    summary["forced_agreement"] = (summary["weighted"] / summary["outputs"]).where(summary["checked"] > 0)
    below = summary["forced_agreement"] < min_forced_agreement
    summary["disagrees"] = below & (summary["forced_max_gap"] > near_tie_ratio * summary["lead"])
    summary["beyond_null"] = (
        (summary["backend"] != summary["reference"])
        & (summary["forced_max_gap"] > summary["null_max_gap"])
        & ~summary["disagrees"]
    )
    summary["near_ties"] = below & ~summary["disagrees"] & ~summary["beyond_null"]
    return summary[VERDICT_COLUMNS]


def logits_functions(records: list[RunRecord], device: str, cpu_threads: int) -> dict[str, Callable]:
    """runner -> its backend's teacher-forced logits, for the runs of every backend that ran quantized
    weights (those runs and their floor: the precision table's KL divergence), where the backend
    gives logits and this process can import its library; each loaded from its run's own spec
    (artifact, dtype, weights, options) on `device`."""
    from ..backends import get_backend, make_options
    from ..backends.base import BackendUnavailable, LoadSettings

    quantized = {r.key.backend for r in records if r.key.weights is not None}
    functions = {}
    for record in records:
        key, spec = record.key, record.spec
        if record.measurement is None or key.runner in functions or key.backend not in quantized:
            continue
        if not get_backend(key.backend).gives_logits:
            continue
        backend = get_backend(key.backend)(
            LoadSettings(
                model_dir=spec.model_dir,
                artifact=spec.artifact,
                device=device,
                dtype=spec.dtype,
                cpu_threads=cpu_threads,
                options=make_options(key.backend, spec.backend_options),
                weights=spec.weights,
            )
        )
        try:
            backend.import_libraries()
        except BackendUnavailable:
            continue  # its library is not in this environment (a conda env per rule): no KL here
        backend.load()
        functions[key.runner] = backend.teacher_forced_logits
    return functions


def reference_logits(model_dir: str, dtype: str, device: str, cpu_threads: int) -> Reference:
    """The reference model (transformers, `dtype`, on `device`)."""
    import torch
    from transformers import AutoModelForCausalLM

    from ..backends.hf import eos_ids

    torch.set_num_threads(cpu_threads)
    # Straight onto the GPU: a float32 copy of a 6B model through host memory cost ~20 s.
    placement = {"device_map": device} if device == "cuda" else {}
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype), **placement)
    model = model.to(device).eval()

    def logits_of(ids: list[int]):
        with torch.inference_mode():
            return model(torch.tensor([ids], device=device)).logits[0]

    return Reference(logits_of, eos_ids(model))
