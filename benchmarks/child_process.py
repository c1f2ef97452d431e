"""A benchmark parent's child processes, run one at a time and never left measuring alone after a stop.

A parent that times processes of its own (harness_overhead.py --processes, llamacpp_job_vs_bench.py)
installs `stop` for the signals that end it (`install_stop`) and runs each child through `run_child`.
A stop while a child runs kills the child, then unwinds the parent with exit status 128 + the signal's
number. A stop that comes while `subprocess.Popen` is starting the child is held until the child has
started, then acts: raised inside Popen's start, it left the child measuring alone in 11 of 30 stops
(a reviewer's repro of harness_overhead.py, 2026-12-07). Imports nothing of llmbench.
"""

from __future__ import annotations

import signal
import subprocess

_stop = {"holding": False, "signum": 0}


def stop(signum: int, _frame) -> None:
    """A signal handler: raises SystemExit(128 + signum), which unwinds through `run_child` (it kills the
    child); held while a child is being started."""
    if _stop["holding"]:
        _stop["signum"] = signum
        return
    raise SystemExit(128 + signum)


def install_stop(signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> None:
    """`stop` as the handler of `signals` (a stop held earlier is forgotten)."""
    _stop["signum"] = 0
    for signum in signals:
        signal.signal(signum, stop)


def run_child(
    command: list[str], *, capture: bool = False, timeout_s: float | None = None
) -> subprocess.CompletedProcess:
    """Runs `command` to its end, its stdin closed; with `capture`, its stdout and stderr as text.

    A stop (see `install_stop`) or any other exception kills the child and waits for it, then goes on
    up (a stop as SystemExit(128 + signum), also one that came while a start failed or while killing);
    raises subprocess.TimeoutExpired after `timeout_s` seconds (the child killed)."""
    child = None
    pipe = subprocess.PIPE if capture else None
    try:
        _stop["holding"] = True
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=pipe, stderr=pipe, text=capture)
        _stop["holding"] = False
        if _stop["signum"]:
            raise SystemExit(128 + _stop["signum"])
        stdout, stderr = child.communicate(timeout=timeout_s)
        return subprocess.CompletedProcess(command, child.returncode, stdout, stderr)
    except BaseException:
        _stop["holding"] = True  # a second stop here must not skip the kill
        if child is not None:
            child.kill()
            child.wait()
        raise
    finally:
        _stop["holding"] = False
        held, _stop["signum"] = _stop["signum"], 0
        if held:  # held while starting (a start that failed too) or while killing: acted on, and forgotten
            raise SystemExit(128 + held)
