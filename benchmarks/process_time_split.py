"""Where a benchmark process's time goes, from a published result's files only.

Reads the run records (`runs/<model>/<backend>/<scenario>/<replica>.json`: import_s, load_s
and the sampler's events load_end / measure_start / measure_end, seconds since the process's
sampler started) and Snakemake's console logs (each job's start and finish stamps, 1 s
resolution), and prints a Markdown table per backend and scenario:

    Snakemake s   the jobs' time as Snakemake logged it (start to finish)
    imports s     the backend's libraries (import_s)
    load s        reading the weights onto the device (load_s)
    warm-up s     load end to the first measured pass (warm-up passes, compiling, the pool's start)
    measured s    the measured window (measure_start to measure_end)
    other s       the rest of the job: Python and llmbench starting, the worker's spawn, the record
                  written, the process's exit, Snakemake's own bookkeeping

and the other rules' time. A job logged more than once (cut and run again) counts with the run
that finished.

    python benchmarks/process_time_split.py docs/results/h200 docs/results/h200/logs/2-run.log \\
        docs/results/h200/logs/3-resume.log
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")


def jobs(log: Path) -> list[dict]:
    """Finished jobs of one Snakemake console log: rule, output, start and end (datetime)."""
    started: dict[str, dict] = {}
    done, stamp, current = [], None, None
    for line in log.read_text().splitlines():
        if found := STAMP.match(line):
            stamp = datetime.strptime(found[1], "%a %b %d %H:%M:%S %Y")
        elif found := re.match(r"^(?:local)?rule (\w+):$", line):
            current = {"rule": found[1], "start": stamp, "output": ""}
        elif current and (found := re.match(r"^\s+output: (.*)$", line)):
            current["output"] = found[1].split(",")[0].strip()
        elif current and (found := re.match(r"^\s+jobid: (\d+)$", line)):
            started[found[1]] = current
            current = None
        elif found := re.match(r"^Finished jobid: (\d+)", line):
            job = started.pop(found[1])
            done.append({**job, "end": stamp})
    return done


def split(result: Path, logs: list[Path]) -> tuple[dict, dict]:
    """Seconds per (backend, scenario) and part, and seconds per other rule."""
    finished = {}
    for log in logs:
        for job in jobs(log):
            finished[(job["rule"], job["output"])] = job  # a later log's run of the same output wins
    parts: dict = defaultdict(lambda: defaultdict(float))
    rules: dict = defaultdict(float)
    for (rule, output), job in finished.items():
        seconds = (job["end"] - job["start"]).total_seconds()
        if rule != "run_benchmark":
            rules[rule] += seconds
            continue
        record = json.loads((result / output.removeprefix("results/")).read_text())
        events = record["resources"]["events_s"]
        key = tuple(Path(output).parts[-3:-1])  # (backend, scenario)
        row = parts[key]
        row["processes"] += 1
        row["Snakemake"] += seconds
        row["imports"] += record["import_s"]
        row["load"] += record["load_s"]
        row["warm-up"] += events["measure_start"] - events["load_end"]
        row["measured"] += events["measure_end"] - events["measure_start"]
        row["other"] += seconds - events["measure_end"]
    return parts, rules


COLUMNS = ("processes", "Snakemake", "imports", "load", "warm-up", "measured", "other")


def table(parts: dict, rules: dict) -> str:
    """The Markdown table: one row per backend and scenario, a total, then the other rules."""
    lines = [
        "| backend | scenario | " + " | ".join(f"{c} s" if c != "processes" else c for c in COLUMNS) + " |",
        "|---|---|" + "---:|" * len(COLUMNS),
    ]
    total: dict = defaultdict(float)
    for (backend, scenario), row in sorted(parts.items()):
        lines.append(f"| {backend} | {scenario} | " + " | ".join(cell(c, row[c]) for c in COLUMNS) + " |")
        for c in COLUMNS:
            total[c] += row[c]
    lines.append("| **all** | | " + " | ".join(f"**{cell(c, total[c])}**" for c in COLUMNS) + " |")
    if rules:
        lines += ["", "| other rule | Snakemake s |", "|---|---:|"]
        lines += [f"| {rule} | {seconds:.0f} |" for rule, seconds in sorted(rules.items())]
    return "\n".join(lines)


def cell(column: str, value: float) -> str:
    """Counts and Snakemake's whole seconds without decimals, the records' seconds with one."""
    return f"{value:.0f}" if column in ("processes", "Snakemake") else f"{value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("result", type=Path, help="a published result's folder (holds runs/)")
    parser.add_argument("logs", type=Path, nargs="+", help="Snakemake console logs, in the order they ran")
    args = parser.parse_args()
    print(table(*split(args.result, args.logs)))


if __name__ == "__main__":
    main()
