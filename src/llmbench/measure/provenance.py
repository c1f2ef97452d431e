"""Where and with what a result was produced, recorded on every result."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from . import nvml

PACKAGES = ("llmbench", "torch", "transformers", "ftllm", "snakemake", "nvidia-ml-py")


def package_versions(names=PACKAGES) -> dict[str, str | None]:
    """Installed versions; llmbench's own from the package itself, installed or not."""
    from .. import __version__

    versions = {}
    for name in names:
        try:
            versions[name] = __version__ if name == "llmbench" else metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what `platform` says (processor or machine)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# What decides a result: the workflow's code, rules, schema and templates.
CODE_PATTERNS = (
    "Snakefile",
    "rules/*.smk",
    "scripts/*.py",
    "schemas/*.yaml",
    "src/llmbench/**/*.py",
    "report/templates/*",
)


def code_digest(directory: str | Path) -> str:
    """sha256 over the workflow's code files (relative path and content): it identifies
    the code even where git cannot (a copied tree, a stale or missing .git)."""
    import hashlib

    directory = Path(directory)
    digest = hashlib.sha256()
    files = sorted({p for pattern in CODE_PATTERNS for p in directory.glob(pattern) if p.is_file()})
    for path in files:
        digest.update(str(path.relative_to(directory)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def git_state(directory: str | Path) -> dict:
    """Commit of the workflow checkout, whether it had uncommitted changes, and the
    digest of the code actually present."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(directory), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    code = code_digest(directory)
    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
        return {"commit": commit, "dirty": dirty, "code_sha256": code}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None, "code_sha256": code}


def gpu_info() -> list[dict]:
    """NVML's view of every GPU (name, driver, clocks, power limit); empty where there is none."""
    device, _ = nvml.open_device()
    if device is None:
        return []
    n = device.nvml
    gpus = []
    for index in range(n.nvmlDeviceGetCount()):
        gpus.append(nvml.device_facts(nvml.Device(n, n.nvmlDeviceGetHandleByIndex(index), index)))
    return gpus


def collect(workflow_dir: str | Path, extra_packages: tuple[str, ...] = ()) -> dict:
    """Provenance of one result: start time (UTC), Python, platform, CPU, package versions (PACKAGES and
    `extra_packages`), the workflow's git state and code digest, and NVML's GPUs."""
    return {
        "started_utc": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "packages": package_versions(tuple(dict.fromkeys(PACKAGES + extra_packages))),
        "workflow": git_state(workflow_dir),
        "gpus": gpu_info(),
    }
