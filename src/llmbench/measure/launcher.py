"""Run one benchmark in a child process and always leave a record behind.

The child gets stdin closed (ftllm waits for a key on errors otherwise), its
own process group (so a timeout kills everything it started) and a time limit.
Whatever happens - crash, signal, hang, a library that exits 0 without doing
its work - the run's output path receives a record saying what happened.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import tempfile
from pathlib import Path

from ..child import child_io, module_command
from ..io import tail
from ..record import RunRecord, RunSpec, read_record, write_record

WORKER = module_command("llmbench.measure.worker")


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
    spec: RunSpec,
    output: str | Path,
    log: str | Path,
    worker: tuple[str, ...] = WORKER,
    cache_dir: str | None = None,
) -> RunRecord:
    """Run `spec` in a worker process, killed after `spec.timeout_s` seconds; write
    and return its record or a failure record. The worker is called as
    ``worker SPEC_PATH RESULT_PATH [CACHE_DIR]``."""
    output, log = Path(output), Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="llmbench-run-") as scratch:
        spec_path = Path(scratch) / "spec.json"
        result_path = Path(scratch) / "result.json"
        spec_path.write_text(json.dumps(spec.to_dict(), ensure_ascii=False))
        with open(log, "ab") as log_file:
            child = subprocess.Popen(
                [*worker, str(spec_path), str(result_path), *([cache_dir] if cache_dir else [])],
                **child_io(log_file),
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            try:
                code = child.wait(timeout=spec.timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                record = _failure(spec, f"timed out after {spec.timeout_s:g} s", None, log)
            else:
                record = _read_result(spec, result_path, code, log)
    write_record(output, record)
    return record


def _failure(spec: RunSpec, reason: str, exit_code: int | None, log: Path) -> RunRecord:
    return RunRecord.failure(spec.run, spec, reason, exit_code=exit_code, log_tail=tail(log))


def _read_result(spec: RunSpec, result_path: Path, code: int, log: Path) -> RunRecord:
    if result_path.exists():
        try:
            record = read_record(result_path)
        except (OSError, ValueError, KeyError, TypeError) as error:
            return _failure(spec, f"unreadable result ({error}); worker {_describe_exit(code)}", code, log)
        if record.status == "failed":
            record.exit_code, record.log_tail = code, tail(log)
        return record
    # ftllm prints its errors and exits 0: a missing result is a failure whatever the status.
    return _failure(spec, f"worker {_describe_exit(code)} without writing a result", code, log)
