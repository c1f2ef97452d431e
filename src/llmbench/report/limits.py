"""不足: the specific limits of this run, each said once.

Each limit is one small rule: a function of what the report knows (:class:`Facts`)
to the notes it adds, in the report's language; :data:`RULES` lists them in the
order the report says them, and :func:`limits` runs them all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from ..analyze.tables import coarse_clock_runs, near_bound
from ..record import RunRecord, flag_text
from .format import num
from .strings import Strings

NOISY_CI_PCT = 5.0


def _runs(keys) -> str:
    return ", ".join(dict.fromkeys(str(k) for k in keys))


def cpu_threads_by_backend(records: list[RunRecord]) -> dict[str, int]:
    """Backend -> the CPU threads its CPU runs computed with, as each backend reported them
    (torch's, ftllm's or llama.cpp's own count; the run setting where none was reported).
    Several counts for one backend are shown as the largest."""
    threads: dict[str, int] = {}
    for r in records:
        if r.device != "cpu" or r.measurement is None:
            continue
        n = r.backend_info.get("cpu_threads") or r.backend_info.get("torch_threads") or r.cpu_threads
        if n:
            threads[r.key.runner] = max(threads.get(r.key.runner, 0), int(n))
    return threads


@dataclass(frozen=True)
class Facts:
    """What the limits are read from: the run records, the models' manifests, summary.csv, the
    roofline table, the diagnosis of each run (narrative.diagnosis), the correctness reference
    backend, and the strings of the report's language."""

    records: list[RunRecord]
    manifests: dict[str, dict]
    summary: pd.DataFrame
    roofline: pd.DataFrame
    diagnosis: dict
    reference_backend: str
    t: Strings
    prompt_warnings: dict[str, list[str]] = field(default_factory=dict)  # model -> tokenize_prompts'

    @property
    def nvml_reasons(self) -> list[str]:
        """Why NVML was unavailable, one reason each, sorted ([] where every run had it)."""
        return sorted(
            {r.resources.nvml_reason for r in self.records if r.resources and not r.resources.nvml_available}
        )

    @property
    def cpu_runs(self) -> list[str]:
        """The run configurations (model/backend/scenario) that ran on the CPU, sorted."""
        return sorted({str(r.key) for r in self.records if r.device == "cpu"})

    @property
    def every_run_on_cpu(self) -> bool:
        """Whether there are records and all of them ran on the CPU."""
        return bool(self.records) and len(self.cpu_runs) == len({str(r.key) for r in self.records})


def synthetic_weights(f: Facts) -> list[str]:
    """A model with random weights: meaningless text, valid timings."""
    return [
        f.t.f("limits.synthetic", model=name, preset=m["source"].get("preset"))
        for name, m in f.manifests.items()
        if (m.get("source") or {}).get("source") == "synthetic"
    ]


def coarse_token_clock(f: Facts) -> list[str]:
    """Runs whose TPOT is under twice their token clock's resolution (analyze.tables.coarse_clock_runs)."""
    fast = [f"{'/'.join(k)} ({num(v, 3)} ms)" for k, v in coarse_clock_runs(f.summary).items()]
    return [f.t.f("limits.clock", runs=", ".join(fast))] if fast else []


def near_the_roofline(f: Facts) -> list[str]:
    """Runs within 5 % of the bandwidth bound, or past it: the bound itself is doubtful there."""
    above = f.roofline[near_bound(f.roofline)]
    if not len(above):
        return []
    return [f.t.f("limits.roofline", runs=_runs(f"{r.backend}/{r.scenario}" for r in above.itertuples()))]


def noisy_throughput(f: Facts) -> list[str]:
    """Throughputs whose 95 % CI half-width exceeds NOISY_CI_PCT of the mean."""
    throughput = f.summary[(f.summary.metric == "output_tokens_per_s") & (f.summary.n > 1)]
    half = (throughput.ci95_high - throughput.ci95_low) / 2 / throughput["mean"] * 100
    noisy = throughput[half > NOISY_CI_PCT]
    if not len(noisy):
        return []
    runs = _runs(f"{r.backend}/{r.scenario}" for r in noisy.itertuples())
    return [f.t.f("limits.noisy", pct=NOISY_CI_PCT, runs=runs)]


def cpu_bound(f: Facts) -> list[str]:
    """GPU runs that the host CPU limited (per the diagnosis: per run, and per level of a sweep)."""
    runs = [
        f"{b}/{s}" + ("" if level is None else f" ({level})")
        for (m, b, s, level), v in f.diagnosis.items()
        if v.startswith(f.t.limited.cpu_prefix)
    ]
    return [f.t.f("limits.cpu_bound", runs=_runs(runs))] if runs else []


def small_n(f: Facts) -> list[str]:
    """Throughputs resting on fewer than 3 replication units."""
    measured = f.summary[(f.summary.metric == "output_tokens_per_s") & (f.summary.n > 0)]
    few = measured[measured.n < 3]
    if not len(few):
        return []
    runs = _runs(
        f"{r.backend}/{r.scenario} (n = {int(r.n)} {f.t.units[r.ci_unit]})" for r in few.itertuples()
    )
    return [f.t.f("limits.small_n", runs=runs)]


SLOW_HOST_PCT = 25  # a canary this much slower than the run set's median: the host, not the backend


def slow_host(f: Facts) -> list[str]:
    """The processes whose canary (measure.host: fixed work timed before loading) took more than
    SLOW_HOST_PCT % longer than the median over every process of the run set; none where none did
    or fewer than three processes timed it."""
    import statistics

    timed = [(r.run, r.host["canary_ms"]) for r in f.records if r.host.get("canary_ms")]
    if len(timed) < 3:
        return []
    median = statistics.median(ms for _, ms in timed)
    slow = [f"{run} ({num(ms, 1)} ms)" for run, ms in timed if ms > median * (1 + SLOW_HOST_PCT / 100)]
    if not slow:
        return []
    return [f.t.f("limits.slow_host", pct=SLOW_HOST_PCT, median=num(median, 1), runs=", ".join(slow))]


def host_not_recorded(f: Facts) -> list[str]:
    """The processes that measured but whose record holds no host state (no canary, no CPU steal,
    clock or load per window): written by code from before it was recorded, so slow_host cannot
    tell a slow host from a slow backend there. "every process" where none has it."""
    measured = [r for r in f.records if r.measurement is not None]
    missing = [
        r
        for r in measured
        if r.host.get("canary_ms") is None
        and not any("host" in s for s in (r.resources.segments if r.resources else []))
    ]
    if not missing:
        return []
    runs = f.t.limits.every_process if len(missing) == len(measured) else _runs(str(r.run) for r in missing)
    return [f.t.f("limits.host_not_recorded", runs=runs)]


def on_the_cpu(f: Facts) -> list[str]:
    """Runs on the CPU; when every run did and NVML was missing, one note says both."""
    if f.every_run_on_cpu and f.nvml_reasons:  # one note, not two that say "no GPU" twice
        return [f.t.f("limits.cpu_only", reason="; ".join(f.nvml_reasons))]
    return [f.t.f("limits.cpu", runs=", ".join(f.cpu_runs))] if f.cpu_runs else []


def unequal_cpu_threads(f: Facts) -> list[str]:
    """Backends that computed with different numbers of CPU threads."""
    threads = cpu_threads_by_backend(f.records)
    if len(set(threads.values())) <= 1:
        return []
    return [f.t.f("limits.threads", items=", ".join(f"{b} {n}" for b, n in threads.items()))]


def what_nvml_missed(f: Facts) -> list[str]:
    """No NVML at all (unless on_the_cpu said so), else energy it could not read and calls that failed."""
    if f.nvml_reasons:
        return [] if f.every_run_on_cpu else [f.t.f("limits.no_gpu", reason="; ".join(f.nvml_reasons))]
    resources = [r.resources for r in f.records if r.resources]
    notes = [
        f.t.f("limits.energy", reason=reason)
        for reason in sorted({r.energy_reason for r in resources if r.energy_reason})
    ]
    errors = sorted({e for r in resources for e in r.nvml_errors.values()})
    return notes + ([f.t.f("limits.nvml_calls", errors="; ".join(errors))] if errors else [])


def run_outcomes(f: Facts) -> list[str]:
    """Each failed run with its reason, each invalid one with its first reasons, each flagged one."""
    notes = []
    for record in f.records:
        if record.status == "failed":
            notes.append(f.t.f("limits.failed", run=record.run, reason=record.reason))
        elif record.status == "invalid":
            reasons = "; ".join(record.measurement.invalid_reasons[:3])
            notes.append(f.t.f("limits.invalid", run=record.run, reason=reasons))
        if record.validity_flags:
            flags = "; ".join(flag_text(flag, f.t.flags) for flag in record.validity_flags)
            notes.append(f.t.f("limits.flags", run=record.run, flags=flags))
    return notes


def remote_code(f: Facts) -> list[str]:
    """Runs that executed the checkpoint's own Python code."""
    remote = [str(r.key) for r in f.records if r.backend_info.get("trust_remote_code")]
    return [f.t.f("limits.remote_code", runs=_runs(remote))] if remote else []


def generation_config_not_applied(f: Facts) -> list[str]:
    """What the checkpoint's generation_config would have set, and no backend applied."""
    ignored = [
        r.backend_info["checkpoint_generation_config_not_applied"]
        for r in f.records
        if r.backend_info.get("checkpoint_generation_config_not_applied")
    ]
    if not ignored:
        return []
    return [f.t.f("limits.generation_config", settings=", ".join(f"{k} {v}" for k, v in ignored[0].items()))]


def prompts_not_covered(f: Facts) -> list[str]:
    """Queries the model's tokenizer mostly could not cover (results/prompts/{model}.json
    `warnings`): the console said so at the end of the run, and so does the report."""
    return [
        f.t.f("limits.prompt_warning", model=model, warning=warning)
        for model, warnings in sorted(f.prompt_warnings.items())
        for warning in warnings
    ]


def no_reference(f: Facts) -> list[str]:
    """The correctness reference backend measured nothing: no baseline for the comparisons."""
    if any(r.key.runner == f.reference_backend and r.measurement for r in f.records):
        return []
    return [f.t.f("limits.no_reference", reference=f.reference_backend)]


# In the order the report says them.
RULES: list[Callable[[Facts], list[str]]] = [
    synthetic_weights,
    coarse_token_clock,
    near_the_roofline,
    noisy_throughput,
    cpu_bound,
    small_n,
    slow_host,
    host_not_recorded,
    on_the_cpu,
    unequal_cpu_threads,
    what_nvml_missed,
    run_outcomes,
    remote_code,
    generation_config_not_applied,
    prompts_not_covered,
    no_reference,
]


def limits(
    records: list[RunRecord],
    manifests: dict[str, dict],
    summary: pd.DataFrame,
    roofline: pd.DataFrame,
    diagnosis: dict,
    reference_backend: str,
    t: Strings,
    prompt_warnings: dict[str, list[str]] | None = None,
) -> list[str]:
    """The report's 不足 notes in its language: every rule of RULES in order, each note once."""
    facts = Facts(
        records, manifests, summary, roofline, diagnosis, reference_backend, t, prompt_warnings or {}
    )
    return list(dict.fromkeys(note for rule in RULES for note in rule(facts)))
