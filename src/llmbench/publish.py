"""Copy a finished run's results into the repository, in a folder named after the measured device.

    python -m llmbench.publish results docs/results --command "snakemake ..." --wall-s 512

writes docs/results/<device>/ (e.g. docs/results/h200 for an NVIDIA H200): the
summary, report (md + html), plots, derived tables, agreement, bandwidth, model
facts and every run record, each model's manifest (from resources/models/<model>/manifest.json,
as manifests/<model>.json: with the rest, all the report is rendered from), plus run.json with
the command and its wall time. Nothing under results/ or resources/ is changed.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

from .io import read_json, write_json_atomic

# What a published result holds, relative to results/.
PUBLISHED = [
    "summary.csv",
    "report.md",
    "report.html",
    "plots",
    "runs",
    "tables",
    "agreement",
    "device",
    "models",
    "prompts",
]


def device_slug(name: str) -> str:
    """A folder name from a device's name: "NVIDIA H200" -> "h200", "NVIDIA GeForce RTX 3090" -> "geforce-rtx-3090"."""
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w and w != "nvidia"]
    return "-".join(words) or "cpu"


def measured_device(results: Path) -> str:
    """The device the runs used: the bandwidth probe's name (the GPU's, or "cpu")."""
    return read_json(results / "device" / "bandwidth.json").get("name") or "cpu"


def publish(
    results: str | Path,
    root: str | Path,
    command: str,
    wall_s: float | None,
    resources: str | Path | None = None,
) -> Path:
    """Copy what a published result holds from `results` (and the manifests of the models it ran
    from `resources`, default: resources/ beside `results`) to `<root>/<device slug>/` and write
    run.json there (`command`, `wall_s` in s, device); returns that folder. Raises
    FileNotFoundError when `results` has no device/bandwidth.json."""
    results = Path(results)
    resources = Path(resources) if resources is not None else results.parent / "resources"
    target = Path(root) / device_slug(measured_device(results))
    target.mkdir(parents=True, exist_ok=True)
    for name in PUBLISHED:
        source = results / name
        if source.is_dir():
            shutil.copytree(source, target / name, dirs_exist_ok=True)
        elif source.is_file():
            shutil.copy2(source, target / name)
    for model in sorted(p.stem for p in (results / "models").glob("*.json")):
        manifest = resources / "models" / model / "manifest.json"
        if manifest.is_file():
            (target / "manifests").mkdir(exist_ok=True)
            shutil.copy2(manifest, target / "manifests" / f"{model}.json")
    write_json_atomic(
        target / "run.json", {"command": command, "wall_s": wall_s, "device": measured_device(results)}
    )
    return target


def main() -> None:
    """Command line (see the module docstring); prints the folder written, as JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("results")
    parser.add_argument("root")
    parser.add_argument("--command", required=True, help="the command that produced the results")
    parser.add_argument("--wall-s", type=float, default=None, help="its wall time, seconds")
    args = parser.parse_args()
    print(json.dumps(str(publish(args.results, args.root, args.command, args.wall_s))))


if __name__ == "__main__":
    main()
