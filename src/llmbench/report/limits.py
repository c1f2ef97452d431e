"""不足: the specific limits of this run, each said once."""

from __future__ import annotations

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


def limits(
    records: list[RunRecord],
    manifests: dict[str, dict],
    summary: pd.DataFrame,
    roofline: pd.DataFrame,
    diagnosis: dict,
    reference_backend: str,
    t: Strings,
) -> list[str]:
    """The report's 不足 notes in its language, each once: synthetic weights, a token clock too coarse
    for the TPOT, runs near the roofline bound, noisy CIs, CPU-bound runs, small n, CPU runs, CPU thread
    counts that differ between backends, what NVML
    could not measure, failed, invalid and flagged runs, remote code, the checkpoint's generation_config
    not applied, and a missing reference backend."""
    notes = [
        t.f("limits.synthetic", model=name, preset=m["source"].get("preset"))
        for name, m in manifests.items()
        if (m.get("source") or {}).get("source") == "synthetic"
    ]
    fast = [f"{'/'.join(k)} ({num(v, 3)} ms)" for k, v in coarse_clock_runs(summary).items()]
    if fast:
        notes.append(t.f("limits.clock", runs=", ".join(fast)))
    above = roofline[near_bound(roofline)]
    if len(above):
        notes.append(
            t.f("limits.roofline", runs=_runs(f"{r.backend}/{r.scenario}" for r in above.itertuples()))
        )
    throughput = summary[(summary.metric == "output_tokens_per_s") & (summary.n > 1)]
    half = (throughput.ci95_high - throughput.ci95_low) / 2 / throughput["mean"] * 100
    noisy = throughput[half > NOISY_CI_PCT]
    if len(noisy):
        notes.append(
            t.f(
                "limits.noisy",
                pct=NOISY_CI_PCT,
                runs=_runs(f"{r.backend}/{r.scenario}" for r in noisy.itertuples()),
            )
        )
    cpu_bound = [f"{b}/{s}" for (m, b, s), v in diagnosis.items() if v.startswith(t.limited.cpu_prefix)]
    if cpu_bound:
        notes.append(t.f("limits.cpu_bound", runs=_runs(cpu_bound)))
    measured = summary[(summary.metric == "output_tokens_per_s") & (summary.n > 0)]
    few = measured[measured.n < 3]
    if len(few):
        notes.append(
            t.f(
                "limits.small_n",
                runs=_runs(
                    f"{r.backend}/{r.scenario} (n = {int(r.n)} {t.units[r.ci_unit]})"
                    for r in few.itertuples()
                ),
            )
        )
    cpu_runs = sorted({str(r.key) for r in records if r.device == "cpu"})
    nvml = sorted(
        {r.resources.nvml_reason for r in records if r.resources and not r.resources.nvml_available}
    )
    every_run_on_cpu = bool(records) and len(cpu_runs) == len({str(r.key) for r in records})
    if every_run_on_cpu and nvml:  # one note, not two that say "no GPU" twice
        notes.append(t.f("limits.cpu_only", reason="; ".join(nvml)))
    elif cpu_runs:
        notes.append(t.f("limits.cpu", runs=", ".join(cpu_runs)))
    threads = cpu_threads_by_backend(records)
    if len(set(threads.values())) > 1:
        notes.append(t.f("limits.threads", items=", ".join(f"{b} {n}" for b, n in threads.items())))
    if nvml and not every_run_on_cpu:
        notes.append(t.f("limits.no_gpu", reason="; ".join(nvml)))
    elif not nvml:
        reasons = sorted(
            {r.resources.energy_reason for r in records if r.resources and r.resources.energy_reason}
        )
        notes += [t.f("limits.energy", reason=reason) for reason in reasons]
        errors = sorted({e for r in records if r.resources for e in r.resources.nvml_errors.values()})
        if errors:
            notes.append(t.f("limits.nvml_calls", errors="; ".join(errors)))
    for record in records:
        if record.status == "failed":
            notes.append(t.f("limits.failed", run=record.run, reason=record.reason))
        elif record.status == "invalid":
            notes.append(
                t.f(
                    "limits.invalid", run=record.run, reason="; ".join(record.measurement.invalid_reasons[:3])
                )
            )
        if record.validity_flags:
            flags = "; ".join(flag_text(f, t.flags) for f in record.validity_flags)
            notes.append(t.f("limits.flags", run=record.run, flags=flags))
    remote = [str(r.key) for r in records if r.backend_info.get("trust_remote_code")]
    if remote:
        notes.append(t.f("limits.remote_code", runs=_runs(remote)))
    ignored = {
        str(r.key.runner): r.backend_info["checkpoint_generation_config_not_applied"]
        for r in records
        if r.backend_info.get("checkpoint_generation_config_not_applied")
    }
    if ignored:
        settings = ", ".join(f"{k} {v}" for k, v in next(iter(ignored.values())).items())
        notes.append(t.f("limits.generation_config", settings=settings))
    if not any(r.key.runner == reference_backend and r.measurement for r in records):
        notes.append(t.f("limits.no_reference", reference=reference_backend))
    return list(dict.fromkeys(notes))
