"""Gather what the report shows, then render it: Markdown through Jinja, and one
self-contained HTML file (images inlined)."""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import markdown as markdown_lib
import pandas as pd

from .. import __version__
from ..analyze.agreement import verdicts as agreement_verdicts
from ..analyze.roofline import bound_memory
from ..analyze.summary import read_summary
from ..io import read_json
from ..record import RunRecord, read_record
from ..scenario_types import SECTIONS, TYPES, Scenario, types_where
from . import narrative, tables
from .article import read_article
from .conclusion import answer, article_table, summary_points
from .format import UNRESOLVED_RATIO
from .limits import limits
from .precision import precision_points, precision_section
from .serving import serving_context
from .strings import Strings, load_strings


@dataclass
class Inputs:
    """Everything the report reads, already loaded."""

    summary: pd.DataFrame
    records: list[RunRecord]
    manifests: dict[str, dict]
    models: dict[str, dict]  # weights.model_bytes per model
    roofline: pd.DataFrame
    resources: pd.DataFrame
    agreement: pd.DataFrame
    bandwidth: dict
    plots: list[str]  # relative to the report
    settings: dict  # config["report"]
    correctness: dict
    scenarios: dict[str, Scenario]  # the config's, in its order
    reproduce: str  # the command that reran it (reproduce_command)
    reference: tuple[str, pd.DataFrame] | None = None  # (folder, its summary)
    prompt_forms: dict[str, str] = field(default_factory=dict)  # model -> models.prompts.FORMS
    prompt_warnings: dict[str, list[str]] = field(default_factory=dict)  # model -> the tokenizer's warnings
    precision: pd.DataFrame = field(default_factory=pd.DataFrame)  # analyze.precision; empty: none


def measured_device(inputs: Inputs) -> str:
    """The GPU the runs used (NVML's name), else the CPU model."""
    for record in inputs.records:
        if record.gpu and record.gpu.get("name"):
            return record.gpu["name"]
    return next((r.provenance.get("cpu") for r in inputs.records if r.provenance.get("cpu")), "CPU")


def title(inputs: Inputs, t: Strings) -> str:
    """The config's report title, else one naming the models, backends and measured device."""
    if inputs.settings.get("title"):
        return inputs.settings["title"]
    backends = ", ".join(dict.fromkeys(r.key.runner for r in inputs.records))
    return t.f("title", models=", ".join(inputs.manifests), backends=backends, device=measured_device(inputs))


def _plot_sections(plots: list[str], scenario_types: dict[str, str]) -> dict[str, list[str]]:
    """Which analysis section shows which figure."""
    sections: dict[str, list[str]] = {
        section: [] for section in (*SECTIONS, "latency", "resources", "precision")
    }
    for plot in plots:
        name = Path(plot).stem
        if name == "precision" and Path(plot).parent.name == "plots":
            sections["precision"].append(plot)
        elif name in scenario_types:
            sections[TYPES[scenario_types[name]].section].append(plot)
        else:
            sections["latency" if name == "latency" else "resources"].append(plot)
    return sections


def build_context(inputs: Inputs) -> dict:
    """Everything the report templates print, computed from `inputs` in the report's language;
    raises ArticleError when the configured article file is missing or wrong."""
    t = load_strings(inputs.settings["language"])
    # Open-loop levels (a request rate each) are read from the records by the serving block; the tables and
    # sentences by concurrency level take the other rows (the run-level ones of open-loop runs included).
    summary, records = _by_concurrency(inputs.summary), inputs.records
    single = summary.model.nunique() <= 1
    baseline = inputs.correctness["reference"]
    comparisons = narrative.comparisons(summary, baseline)
    verdicts = agreement_verdicts(
        inputs.agreement, inputs.correctness["min_forced_agreement"], inputs.correctness["near_tie_ratio"]
    )
    diagnosis = narrative.diagnosis(inputs.resources, t)
    provenance = next((r.provenance for r in records if r.provenance), {})
    scenarios = inputs.scenarios
    stop = stop_reasons(records, t)
    article = read_article(inputs.settings["article"]) if inputs.settings.get("article") else None
    by_section: dict[str, list[str]] = {section: [] for section in SECTIONS}
    for c in comparisons:
        by_section[TYPES[c.scenario_type].section].append(narrative.comparison_sentence(c, t))
    for kind in types_where(swept=True):
        by_section[TYPES[kind].section] += narrative.sweep_sentences(
            summary[summary.scenario_type == kind], t, single
        )
    # what "concurrent" and "one batch" meant for each backend opens the concurrency section
    concurrency_section = TYPES[types_where(swept=True)[0]].section
    by_section[concurrency_section] = concurrency_meanings(records, t) + by_section[concurrency_section]
    return {
        "t": t,
        "language": inputs.settings["language"],
        "title": title(inputs, t),
        "header": t.f(
            "header",
            when=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            version=__version__,
            commit=((provenance.get("workflow") or {}).get("commit") or "unknown")[:12],
            dirty=t.dirty if (provenance.get("workflow") or {}).get("dirty") else "",
            code=((provenance.get("workflow") or {}).get("code_sha256") or "")[:12],
        ),
        "answer": answer(comparisons, summary, inputs.resources, t, verdicts),
        "results_intro": t.f("results_intro", ratio=f"{UNRESOLVED_RATIO:g}"),
        "article": article_table(article, summary, inputs.resources, t) if article else None,
        "article_source": article.source if article else "",
        "provenance": provenance,
        "gpu_table": tables.environment_table(provenance, t),
        "models_table": tables.models_table(inputs.manifests, inputs.models, t),
        "scenarios_table": tables.scenarios_table(scenarios, t, sorted(set(inputs.prompt_forms.values()))),
        "backend_info": facts_by_run(records, t, single),
        "backend_raw": raw_facts_by_run(records, single),
        "results": tables.results_tables(summary, t, single),
        "clock_note": t.clock_note if (summary.token_clock == "device").any() else "",
        "detail": tables.detail_table(summary, stop, t, single),
        **{f"{section}_analysis": sentences for section, sentences in by_section.items()},
        "serving": serving_context(records, t),
        "memory_table": tables.memory_table(inputs.resources, t, single),
        "cost_table": tables.cost_table(inputs.resources, diagnosis, t, single),
        "roofline_intro": _roofline_intro(inputs.bandwidth, t),
        "roofline_table": tables.roofline_rows_table(inputs.roofline, t, single),
        "agreement_table": tables.agreement_rows_table(verdicts, t),
        "agreement_sentences": narrative.agreement_sentences(verdicts, inputs.correctness, t),
        "agreement_intro": t.f(
            "agreement_intro",
            dtype=inputs.correctness["reference_dtype"],
            reference=baseline,
            threshold=f"{inputs.correctness['min_forced_agreement']:.0%}",
        ),
        "reference": _reference(inputs, t),
        "points": summary_points(comparisons, summary, inputs.resources, verdicts, article, t)
        + (precision_points(inputs.precision, t) if not inputs.precision.empty else []),
        "precision": precision_section(inputs.precision, inputs.manifests, t),
        "limits": limits(
            records,
            inputs.manifests,
            summary,
            inputs.roofline,
            diagnosis,
            baseline,
            t,
            inputs.prompt_warnings,
        ),
        "failures": tables.failures_table(records, t),
        "plots": _plot_sections(inputs.plots, {name: s.type for name, s in scenarios.items()}),
        "reproduce": inputs.reproduce,
    }


def stop_reasons(records: list[RunRecord], t: Strings) -> dict[tuple, str]:
    """(model, backend, scenario, concurrency) -> what ended each replica's passes, counted over the
    replicas ("time cap 2/3, CI target met 1/3"; one reason alone when all agree)."""
    from collections import Counter

    counts: dict[tuple, Counter] = {}
    for r in records:
        for lv in r.measurement.levels if r.measurement else []:
            key = (r.key.model, r.key.runner, r.key.scenario, lv.concurrency)
            counts.setdefault(key, Counter())[lv.stop_reason] += 1
    out = {}
    for key, counter in counts.items():
        n = sum(counter.values())
        out[key] = (
            t.stop_reasons[next(iter(counter))]
            if len(counter) == 1
            else ", ".join(f"{t.stop_reasons[reason]} {k}/{n}" for reason, k in counter.most_common())
        )
    return out


def facts_by_run(records: list[RunRecord], t: Strings, single_model: bool) -> dict[str, dict]:
    """What each runner (backend, or backend+weights) reported about itself that fits one line
    (backend_facts), for the report's list: a fact every record of the runner agrees on once under
    the runner's name; a fact that differs, per scenario (label `runner / scenario`), with each
    replica's value where the replicas differ."""
    from .tables import run_label

    by_backend: dict[tuple, list[RunRecord]] = {}
    for r in records:
        if r.backend_info:
            by_backend.setdefault((r.key.model, r.key.runner), []).append(r)
    out: dict[str, dict] = {}
    for (model, backend), group in by_backend.items():
        facts = [backend_facts(r.backend_info) for r in group]
        keys = list(dict.fromkeys(k for f in facts for k in f))
        shared = [k for k in keys if all(f.get(k) == facts[0].get(k) for f in facts)]
        out[run_label(model, backend, None, single_model)] = {k: facts[0][k] for k in shared if k in facts[0]}
        for scenario in dict.fromkeys(r.key.scenario for r in group):
            replicas = [
                (r.run.replica, f) for r, f in zip(group, facts, strict=True) if r.key.scenario == scenario
            ]
            varying = {}
            for k in keys:
                if k in shared:
                    continue
                values = [f.get(k) for _, f in replicas]
                if all(v is None for v in values):  # not a fact of this scenario's records
                    continue
                varying[k] = (
                    values[0]
                    if all(v == values[0] for v in values)
                    else "; ".join(
                        t.f("facts_replica", replica=i, value=v)
                        for (i, _), v in zip(replicas, values, strict=True)
                    )
                )
            if varying:
                out[run_label(model, backend, scenario, single_model)] = varying
    return out


def raw_facts_by_run(records: list[RunRecord], single_model: bool) -> dict[str, dict]:
    """The long facts (backend_raw) of each runner, under the runner's label in facts_by_run, from
    its first record that has any ({} where none has)."""
    from .tables import run_label

    out: dict[str, dict] = {}
    for r in records:
        label = run_label(r.key.model, r.key.runner, None, single_model)
        if r.backend_info and not out.get(label):
            out[label] = backend_raw(r.backend_info)
    return out


def _by_concurrency(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary rows that are not an open-loop rate level."""
    return summary[summary["rate_per_s"].isna()] if "rate_per_s" in summary else summary


# A fact longer than this (llama.cpp's whole system_info, its buffer lines) is no part of the
# one-line summary: it goes, verbatim, behind a <details> below it.
SHORT_FACT_CHARS = 60


def _facts(info: dict) -> dict:
    """Facts a backend could establish (None left out, e.g. llama.cpp's GPU offload on a CPU
    run), lists joined with "; ", floats to three significant digits; what concurrency meant is
    said in the concurrency section instead (concurrency_meanings)."""
    return {
        key: "; ".join(map(str, value))
        if isinstance(value, list | tuple)
        else f"{value:.3g}"
        if isinstance(value, float)
        else value
        for key, value in info.items()
        if value is not None and key != "concurrency_means"
    }


def backend_facts(info: dict) -> dict:
    """What a backend reported about itself that fits one line of the report: facts of at most
    `SHORT_FACT_CHARS` characters."""
    return {k: v for k, v in _facts(info).items() if len(str(v)) <= SHORT_FACT_CHARS}


def backend_raw(info: dict) -> dict:
    """The long facts `backend_facts` leaves out, as raw text (no blank lines, which would end a
    Markdown HTML block), for a folded <details> under the summary."""
    return {
        k: "\n".join(line for line in str(v).splitlines() if line.strip())
        for k, v in _facts(info).items()
        if len(str(v)) > SHORT_FACT_CHARS
    }


def concurrency_meanings(records: list, t: Strings) -> list[str]:
    """Per backend that ran a concurrent scenario, in the report's language: what "concurrent requests"
    and "one batch" meant for it (Backend.concurrency_means, recorded in backend_info)."""
    meant = {}
    for r in records:
        means = (r.backend_info or {}).get("concurrency_means")
        scenario = r.spec.scenario if r.spec else None
        if (
            means
            and scenario
            and any(scenario.kind.concurrent(scenario, lv) > 1 for lv in scenario.kind.levels(scenario))
        ):
            meant.setdefault(r.key.backend, means)
    return [
        t.f(
            "concurrency_meaning",
            backend=backend,
            concurrent=t.concurrency_means[means["concurrent"]],
            batch=t.concurrency_means[means["batch"]],
        )
        for backend, means in meant.items()
    ]


def _roofline_intro(bandwidth: dict, t: Strings) -> str:
    if not bandwidth.get("available", True):
        return t.f("roofline_unavailable", reason=bandwidth.get("reason"))
    memory = t.f(f"bound_memory.{bound_memory(bandwidth)}", name=bandwidth.get("name"))
    return t.f("roofline_intro", memory=memory, gbs=f"{bandwidth['bytes_per_s'] / 1e9:,.0f}")


def _reference(inputs: Inputs, t: Strings):
    if inputs.reference is None:
        return None
    folder, frame = inputs.reference
    device = _reference_device(Path(folder))
    rows = narrative.reference_rows(_by_concurrency(inputs.summary), _by_concurrency(frame), t)
    return {
        "intro": t.f("reference_intro", path=folder, device=device),
        "table": tables.Table(t.tables.reference, ["l", "l", "r", "l", "r", "r", "r", "r"], rows),
    }


def _reference_device(folder: Path) -> str:
    """The reference's device, from the provenance of its first run record."""
    for path in sorted(folder.glob("runs/**/*.json")):
        provenance = read_json(path).get("provenance") or {}
        gpus = provenance.get("gpus") or []
        return ", ".join(gpu["name"] for gpu in gpus) or provenance.get("cpu") or "cpu"
    return "?"


def _environment(template_dir: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_markdown(context: dict, template_dir: Path) -> str:
    """report.md.j2 of `template_dir` rendered with `context`; a name the context lacks raises
    jinja2.UndefinedError."""
    return _environment(template_dir).get_template("report.md.j2").render(**context)


def render_html(markdown_text: str, context: dict, template_dir: Path, base_dir: Path) -> str:
    """Self-contained HTML: the Markdown converted, every image inlined as a data URI."""
    body = markdown_lib.markdown(markdown_text, extensions=["tables", "fenced_code"])

    def inline(match: re.Match) -> str:
        data = base64.b64encode((base_dir / match.group(1)).read_bytes()).decode()
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="([^":]+\.png)"', inline, body)
    return _environment(template_dir).get_template("report.html.j2").render(body=body, **context)


def load_inputs(
    paths: dict, settings: dict, correctness: dict, scenarios: list, reproduce: str, md_out: str
) -> Inputs:
    """paths: summary, runs, manifests {model: path}, models {model: path}, roofline, resources,
    agreement [paths], bandwidth, plots [paths], reference [summary.csv path or none];
    scenarios: [name, settings] pairs in the config's order."""
    md_dir = Path(md_out).parent.resolve()
    agreement = [pd.read_csv(p) for p in paths["agreement"]]
    reference = None
    if paths.get("reference"):
        reference = (str(Path(paths["reference"][0]).parent), read_summary(paths["reference"][0]))
    return Inputs(
        summary=read_summary(paths["summary"]),
        records=[read_record(p) for p in paths["runs"]],
        manifests={name: read_json(p) for name, p in paths["manifests"].items()},
        models={name: read_json(p) for name, p in paths["models"].items()},
        roofline=pd.read_csv(paths["roofline"]),
        resources=pd.read_csv(paths["resources"]),
        agreement=pd.concat(agreement, ignore_index=True) if agreement else pd.DataFrame(),
        bandwidth=read_json(paths["bandwidth"]),
        plots=[str(Path(p).resolve().relative_to(md_dir)) for p in paths["plots"]],
        prompt_forms={
            name: form
            for name, p in paths.get("prompts", {}).items()
            if Path(p).is_file() and (form := read_json(p).get("form"))
        },
        prompt_warnings={
            name: warnings
            for name, p in paths.get("prompts", {}).items()
            if Path(p).is_file() and (warnings := read_json(p).get("warnings"))
        },
        settings=settings,
        correctness=correctness,
        reproduce=reproduce,
        reference=reference,
        precision=pd.read_csv(paths["precision"][0]) if paths.get("precision") else pd.DataFrame(),
        scenarios={name: Scenario.from_dict(s) for name, s in scenarios},
    )


def write_report(inputs: Inputs, template_dir: str, md_out: str, html_out: str) -> None:
    """Render the report and write it as Markdown to `md_out` and as self-contained HTML to `html_out`."""
    context = build_context(inputs)
    markdown_text = render_markdown(context, Path(template_dir))
    Path(md_out).write_text(markdown_text, encoding="utf-8")
    html = render_html(markdown_text, context, Path(template_dir), Path(md_out).parent)
    Path(html_out).write_text(html, encoding="utf-8")
