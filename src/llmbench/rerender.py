"""Render a published result (docs/results/<device>/) again from its records, with the current code.

    python -m llmbench.rerender docs/results/h200

runs, in the published folder, what the workflow's rules after the benchmarks run, through the
very functions their scripts call: collect_results (summary.csv), derive_tables
(tables/roofline.csv, tables/resources.csv), derive_precision (when a model runs quantized
weights), plot_scenario, plot_model, plot_precision and render_report (report.md, report.html).
Its inputs are the folder's own: runs/, agreement/, device/bandwidth.json, models/, manifests/,
prompts/. The agreement tables are read as they were written (checking agreement needs the
reference model on the device); nothing is measured.

The settings (scenarios, correctness, report) are those of the config file the run used: the
`--configfile` of run.json's command, as it was at run.json's `code_commit` (read with git), unless
`--configfile` names another. The report's reproduce line is run.json's command. Fields that the
code which ran did not record are said to be missing by the report, never filled in.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
from pathlib import Path

import pandas as pd
import yaml

from .analyze.precision import precision_table, run_bits
from .analyze.summary import summary_table
from .analyze.tables import resources_table, roofline_table
from .config import validate_config
from .io import read_json
from .record import read_record
from .report.plots.model import plot_latency, plot_memory, plot_resources
from .report.plots.precision import plot_precision
from .report.plots.scenario import plot_scenario
from .report.render import load_inputs, write_report
from .report.strings import load_strings

ROOT = Path(__file__).resolve().parents[2]


def run_configfile(command: str) -> str | None:
    """The config file named by `--configfile` in a Snakemake command line (the last, as Snakemake
    keeps it), or None."""
    words = shlex.split(command)
    files = [words[i + 1] for i, word in enumerate(words[:-1]) if word == "--configfile"]
    return files[-1] if files else None


def config_at(configfile: str, commit: str | None, repo: str | Path = ROOT) -> dict:
    """The YAML of `configfile` (relative to `repo`) as it was at `commit` (git show), or as it is
    in `repo`'s working tree when `commit` is None; raises ValueError when git cannot show it."""
    if commit is None:
        return yaml.safe_load((Path(repo) / configfile).read_text())
    try:
        text = subprocess.run(
            ["git", "-C", str(repo), "show", f"{commit}:{configfile}"],
            capture_output=True,
            check=True,
            text=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        raise ValueError(f"cannot read {configfile} at commit {commit!r} in {repo}: {error}") from error
    return yaml.safe_load(text)


def run_paths(folder: Path, config: dict) -> list[Path]:
    """The folder's run records in the workflow's order of replicas (replica k of every run before
    replica k+1), then model, scenario and backend in the config's order."""
    scenarios = list(config["scenarios"])
    backends = list(config["backends"])

    def order(path: Path) -> tuple:
        model, runner, scenario, replica = path.relative_to(folder / "runs").with_suffix("").parts
        backend = runner.split("+")[0]
        return (
            int(replica),
            model,
            scenarios.index(scenario) if scenario in scenarios else len(scenarios),
            backends.index(backend) if backend in backends else len(backends),
            runner,
        )

    return sorted((folder / "runs").glob("*/*/*/*.json"), key=order)


def rerender(folder: str | Path, config: dict, reproduce: str) -> list[Path]:
    """Rewrite `folder`'s summary.csv, tables/, plots/ and report.md/html from its records with
    `config`'s settings (a validated config: scenarios, correctness, report) and `reproduce` as the
    report's command line; returns the files written. Raises FileNotFoundError when the folder lacks
    runs/, device/bandwidth.json or a model's models/ or manifests/ file."""
    folder = Path(folder)
    paths = run_paths(folder, config)
    if not paths:
        raise FileNotFoundError(f"{folder / 'runs'} holds no run records")
    records = [read_record(p) for p in paths]
    models = sorted({r.key.model for r in records})
    model_files = {m: folder / "models" / f"{m}.json" for m in models}
    t = load_strings(config["report"]["language"])
    written = []

    def wrote(path: Path) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        written.append(path)
        return str(path)

    # collect_results, derive_tables, derive_precision
    summary = summary_table(records)
    summary.to_csv(wrote(folder / "summary.csv"), index=False)
    bandwidth = read_json(folder / "device" / "bandwidth.json")
    model_facts = {m: read_json(p) for m, p in model_files.items()}
    roofline = roofline_table(summary, records, model_facts, bandwidth)
    resources = resources_table(summary, model_facts, bandwidth, records)
    roofline.to_csv(wrote(folder / "tables" / "roofline.csv"), index=False)
    resources.to_csv(wrote(folder / "tables" / "resources.csv"), index=False)
    agreement = sorted((folder / "agreement").glob("*.csv"))
    precision = []
    if any(m.get("weights") for m in config["models"].values()):
        frames = pd.concat([pd.read_csv(p) for p in agreement], ignore_index=True)
        table = precision_table(summary, frames, *run_bits(records))
        table.to_csv(wrote(folder / "tables" / "precision.csv"), index=False)
        plot_precision(table, wrote(folder / "plots" / "precision.png"), t)
        precision = [str(folder / "tables" / "precision.csv")]

    # plot_scenario, plot_model
    for scenario in config["scenarios"]:
        plot_scenario(summary, scenario, wrote(folder / "plots" / f"{scenario}.png"), t)
    for model in models:
        own = [r for r in records if r.key.model == model]
        plots = folder / "plots" / model
        plot_latency(own, summary, wrote(plots / "latency.png"), t)
        plot_memory(own, wrote(plots / "memory.png"), t)
        plot_resources(
            resources[resources.model == model],
            roofline[roofline.model == model],
            model,
            wrote(plots / "resources.png"),
            t,
        )

    # render_report
    inputs = load_inputs(
        {
            "summary": folder / "summary.csv",
            "runs": paths,
            "manifests": {m: folder / "manifests" / f"{m}.json" for m in models},
            "prompts": {m: folder / "prompts" / f"{m}.json" for m in models},
            "models": model_files,
            "roofline": folder / "tables" / "roofline.csv",
            "resources": folder / "tables" / "resources.csv",
            "precision": precision,
            "agreement": agreement,
            "bandwidth": folder / "device" / "bandwidth.json",
            "plots": [p for p in written if p.suffix == ".png"],
            "reference": [],
        },
        config["report"],
        config["correctness"],
        [[name, s] for name, s in config["scenarios"].items()],
        reproduce,
        str(folder / "report.md"),
    )
    write_report(
        inputs, str(ROOT / "report" / "templates"), wrote(folder / "report.md"), wrote(folder / "report.html")
    )
    return written


def main() -> None:
    """Command line (see the module docstring); prints the files written, as JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folder", help="a published result, e.g. docs/results/h200")
    parser.add_argument(
        "--configfile",
        default=None,
        help="the settings to render with (default: run.json's command's, at its code_commit)",
    )
    args = parser.parse_args()
    run = read_json(Path(args.folder) / "run.json")
    if args.configfile:
        config = yaml.safe_load(Path(args.configfile).read_text())
    else:
        configfile = run_configfile(run["command"]) or "config/config.yaml"
        config = config_at(configfile, run.get("code_commit"))
    # the prompts file and article are checked against this checkout
    config = validate_config(config, ROOT)
    written = rerender(args.folder, config, run["command"])
    print(json.dumps([str(p) for p in written]))


if __name__ == "__main__":
    main()
