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
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_state(directory: str | Path) -> dict:
    """Commit of the workflow checkout and whether it had uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(directory), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


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
    return {
        "started_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "packages": package_versions(tuple(dict.fromkeys(PACKAGES + extra_packages))),
        "workflow": git_state(workflow_dir),
        "gpus": gpu_info(),
    }
