"""Run one benchmark in a child process and always leave a result behind.

The child gets stdin closed (ftllm waits for a key on errors otherwise), its
own process group (so a timeout kills everything it started) and a time limit.
Whatever happens - crash, signal, hang, a library that exits 0 without doing
its work - the run's output path receives a JSON record saying what happened.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from .io import read_json, tail, write_json_atomic
from .worker import SCHEMA_VERSION

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
WORKER = (sys.executable, "-m", "llmbench.worker")


def failure_record(spec: dict, reason: str, exit_code: int | None, log_path: Path) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "run": spec["run"],
        "spec": spec,
        "status": "failed",
        "reason": reason,
        "exit_code": exit_code,
        "log_tail": tail(log_path),
    }


def _die_with_parent() -> None:
    """In the child before exec: be killed if the launching process dies (Linux
    PR_SET_PDEATHSIG). Its own session shields the worker from the signals that
    stop Snakemake; without this, an interrupted workflow left a worker holding
    13 GB of GPU memory on the H100, beside the next run."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


def run_isolated(
    spec: dict, output: str | Path, log: str | Path, timeout_s: float, worker: tuple[str, ...] = WORKER
) -> dict:
    """Run `spec` in a worker process; write and return its result or a failure record.

    The worker is called as ``worker SPEC_PATH RESULT_PATH``."""
    output, log = Path(output), Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llmbench-run-") as scratch:
        spec_path = Path(scratch) / "spec.json"
        result_path = Path(scratch) / "result.json"
        spec_path.write_text(json.dumps(spec, ensure_ascii=False))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
        with open(log, "ab") as log_file:
            child = subprocess.Popen(
                [*worker, str(spec_path), str(result_path)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            try:
                code = child.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                result = failure_record(spec, f"timed out after {timeout_s:g} s", None, log)
            else:
                result = _read_result(spec, result_path, code, log)
    write_json_atomic(output, result)
    return result


def _read_result(spec: dict, result_path: Path, code: int, log: Path) -> dict:
    if result_path.exists():
        try:
            result = read_json(result_path)
        except (OSError, ValueError) as error:
            return failure_record(
                spec, f"unreadable result ({error}); worker {_describe_exit(code)}", code, log
            )
        if result.get("status") == "failed":
            result["exit_code"] = code
            result["log_tail"] = tail(log)
        return result
    # ftllm prints its errors and exits 0: a missing result is a failure whatever the status.
    return failure_record(spec, f"worker {_describe_exit(code)} without writing a result", code, log)
