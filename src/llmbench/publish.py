"""Copy a finished run's results into the repository, in a folder named after the measured device.

    python -m llmbench.publish results docs/results --command "snakemake ..." --wall-s 512

writes docs/results/<device>/ (e.g. docs/results/h200 for an NVIDIA H200): the
summary, report (md + html), plots, derived tables, agreement, bandwidth, model
facts and every run record, each model's manifest (from resources/models/<model>/manifest.json,
as manifests/<model>.json: with the rest, all the report is rendered from), plus run.json with
the command, its wall time and the package versions that ran where they differ from
pyproject.toml's pins. It refuses (before writing anything) records whose code digest is not
the code of the commit they name, or of `--commit` where given: the H200 records said
"813cbfd, uncommitted changes" while their code was f400c0f's. Nothing under results/ or
resources/ is changed.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
import tomllib
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


def _provenances(results: Path) -> list[tuple[str, dict]]:
    """(record path, its provenance) of every run record under results/runs."""
    out = []
    for path in sorted((results / "runs").rglob("*.json")):
        try:
            out.append((str(path.relative_to(results)), read_json(path).get("provenance") or {}))
        except (OSError, ValueError):
            continue
    return out


def commit_code_digest(repo: str | Path, commit: str) -> str:
    """provenance.code_digest of `commit`'s tree in the git repository `repo`; raises ValueError
    when git cannot produce it (unknown commit, no repository)."""
    from .measure.provenance import code_digest

    with tempfile.TemporaryDirectory() as tree:
        try:
            archive = subprocess.run(
                ["git", "-C", str(repo), "archive", commit], capture_output=True, check=True, timeout=60
            ).stdout
            subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as error:
            raise ValueError(f"cannot read commit {commit!r} in {repo}: {error}") from error
        return code_digest(tree)


def check_code(results: Path, repo: str | Path, commit: str | None) -> None:
    """Raises ValueError naming the records whose code_sha256 is not the code of `commit` (else of
    the commit each record names); records without a digest are not checked."""
    digests: dict[str, str] = {}
    wrong = []
    for path, provenance in _provenances(results):
        workflow = provenance.get("workflow") or {}
        named = commit or workflow.get("commit")
        if not workflow.get("code_sha256") or not named:
            continue
        if named not in digests:
            digests[named] = commit_code_digest(repo, named)
        if digests[named] != workflow["code_sha256"]:
            wrong.append(
                f"{path} (code {workflow['code_sha256'][:12]}, commit {named[:12]}'s {digests[named][:12]})"
            )
    if wrong:
        raise ValueError(
            "the code that ran is not the named commit's: "
            + "; ".join(wrong[:5])
            + (f" and {len(wrong) - 5} more" if len(wrong) > 5 else "")
            + ". Name the commit whose code ran (--commit), or rerun from a clean checkout."
        )


def pinned_versions(pyproject: str | Path) -> dict[str, str]:
    """Package -> version of every `name==version` in pyproject.toml's dependencies (optional ones too)."""
    project = tomllib.loads(Path(pyproject).read_text())["project"]
    specs = list(project.get("dependencies", []))
    for extra in (project.get("optional-dependencies") or {}).values():
        specs += extra
    return {
        name.strip().lower(): version.strip()
        for name, version in (s.split("==", 1) for s in specs if "==" in s)
    }


def versions_vs_pins(results: Path, pins: dict[str, str]) -> dict[str, dict]:
    """Package -> {"ran": [versions in the records], "pinned": version} for every pinned package
    whose recorded version differs from its pin."""
    ran: dict[str, set] = {}
    for _, provenance in _provenances(results):
        for name, version in (provenance.get("packages") or {}).items():
            if version:
                ran.setdefault(name.lower(), set()).add(version)
    return {
        name: {"ran": sorted(versions), "pinned": pins[name]}
        for name, versions in sorted(ran.items())
        if name in pins and versions != {pins[name]}
    }


def publish(
    results: str | Path,
    root: str | Path,
    command: str,
    wall_s: float | None,
    resources: str | Path | None = None,
    commit: str | None = None,
    repo: str | Path | None = None,
) -> Path:
    """Copy what a published result holds from `results` (and the manifests of the models it ran
    from `resources`, default: resources/ beside `results`) to `<root>/<device slug>/` and write
    run.json there (`command`, `wall_s` in s, device, the package versions that differ from the
    pins of `repo`'s pyproject.toml); returns that folder. Raises FileNotFoundError when `results`
    has no device/bandwidth.json, ValueError (before writing anything) when the records' code is not
    `commit`'s (else the commit each names) in the git repository `repo` (default: this checkout)."""
    results = Path(results)
    repo = Path(repo) if repo is not None else Path(__file__).resolve().parents[2]
    check_code(results, repo, commit)
    differences = versions_vs_pins(results, pinned_versions(repo / "pyproject.toml"))
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
        target / "run.json",
        {
            "command": command,
            "wall_s": wall_s,
            "device": measured_device(results),
            "code_commit": commit,
            "package_versions_not_pinned": differences,
        },
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
    parser.add_argument("--commit", default=None, help="the commit whose code ran (default: each record's)")
    args = parser.parse_args()
    target = publish(args.results, args.root, args.command, args.wall_s, commit=args.commit)
    print(json.dumps({"folder": str(target), **read_json(target / "run.json")}))


if __name__ == "__main__":
    main()
