"""How llmbench starts a module of its own in a child process: one leaf that the benchmark
launcher and the FastLLM conversion both use.

A child runs ``python -m llmbench...`` with this checkout's ``src/`` first on its
PYTHONPATH (so it imports the same code as its parent, installed or not), its
stdin closed (ftllm waits for a key on errors otherwise) and its stdout and
stderr both appended to the job's log.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # src/


def module_command(module: str) -> tuple[str, ...]:
    """The command that runs package module `module` (``llmbench.measure.worker``) with this interpreter."""
    return (sys.executable, "-m", module)


def child_env() -> dict[str, str]:
    """This process's environment with PACKAGE_ROOT put first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
    return env


def child_io(log_file) -> dict[str, Any]:
    """subprocess keyword arguments: stdin closed, stdout and stderr into the open binary `log_file`,
    the environment of child_env()."""
    return {"stdin": subprocess.DEVNULL, "stdout": log_file, "stderr": subprocess.STDOUT, "env": child_env()}
