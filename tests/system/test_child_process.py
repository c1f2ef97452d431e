"""benchmarks/child_process.py: a benchmark parent's child is killed by any stop, also one that comes while
the child is being started (harness_overhead.py --processes and llamacpp_job_vs_bench.py run theirs so)."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import child_process  # noqa: E402

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
STOPS = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]


@pytest.fixture
def started(monkeypatch):
    """The pids of the children run_child starts (subprocess.Popen recorded), and the stop handlers put back."""
    pids = []
    saved = {signum: signal.getsignal(signum) for signum in STOPS}

    class Recorded(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            pids.append(self.pid)

    monkeypatch.setattr(child_process.subprocess, "Popen", Recorded)
    yield pids
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def gone(pid: int) -> bool:
    """Whether no process `pid` exists any more (run_child waits for what it kills, so the pid is reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("moment", ["before the fork", "after the fork"])
@pytest.mark.parametrize("signum", STOPS, ids=lambda s: signal.Signals(s).name)
def test_a_stop_while_the_child_is_being_started_kills_it_once_started(started, monkeypatch, signum, moment):
    """Without the hold, SystemExit raised inside Popen's start loses the child object: the child lives on."""
    recorded = child_process.subprocess.Popen

    class StoppedWhileStarting(recorded):
        def __init__(self, *args, **kwargs):
            if moment == "before the fork":
                os.kill(os.getpid(), signum)
            super().__init__(*args, **kwargs)
            if moment == "after the fork":
                os.kill(os.getpid(), signum)

    monkeypatch.setattr(child_process.subprocess, "Popen", StoppedWhileStarting)
    child_process.install_stop(tuple(STOPS))
    with pytest.raises(SystemExit) as stopped:
        child_process.run_child(SLEEPER)
    assert stopped.value.code == 128 + signum
    assert len(started) == 1 and gone(started[0])


@pytest.mark.parametrize("signum", STOPS, ids=lambda s: signal.Signals(s).name)
def test_a_stop_while_the_child_runs_kills_it(started, signum):
    child_process.install_stop(tuple(STOPS))
    threading.Timer(0.5, os.kill, (os.getpid(), signum)).start()
    with pytest.raises(SystemExit) as stopped:
        child_process.run_child(SLEEPER, capture=True)
    assert stopped.value.code == 128 + signum
    assert len(started) == 1 and gone(started[0])


def test_a_child_past_its_timeout_is_killed(started):
    with pytest.raises(subprocess.TimeoutExpired):
        child_process.run_child(SLEEPER, timeout_s=0.5)
    assert len(started) == 1 and gone(started[0])


def test_a_child_that_ends_gives_its_status_and_with_capture_its_output(started):
    command = [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"]
    done = child_process.run_child(command, capture=True)
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
    assert child_process.run_child([sys.executable, "-c", "pass"]).returncode == 0
    assert len(started) == 2 and all(gone(pid) for pid in started)


def test_a_stop_while_a_start_fails_is_acted_on_and_not_left_for_the_next_child(started, monkeypatch):
    """A stop held while Popen raised (no such program) ends the run as a stop, and the next child runs."""
    recorded = child_process.subprocess.Popen

    class StoppedThenFailing(recorded):
        def __init__(self, *args, **kwargs):
            os.kill(os.getpid(), signal.SIGTERM)
            super().__init__(["/nonexistent/program"], **{k: v for k, v in kwargs.items() if k != "args"})

    monkeypatch.setattr(child_process.subprocess, "Popen", StoppedThenFailing)
    child_process.install_stop(tuple(STOPS))
    with pytest.raises(SystemExit) as stopped:
        child_process.run_child(SLEEPER)
    assert stopped.value.code == 128 + signal.SIGTERM and started == []
    monkeypatch.setattr(child_process.subprocess, "Popen", recorded)
    assert child_process.run_child([sys.executable, "-c", "pass"]).returncode == 0


def test_a_second_stop_while_the_child_is_being_killed_does_not_skip_the_kill(started, monkeypatch):
    recorded = child_process.subprocess.Popen

    class StoppedAgainWhileKilled(recorded):
        def kill(self):
            os.kill(os.getpid(), signal.SIGTERM)  # the second stop, before the kill itself
            super().kill()

    monkeypatch.setattr(child_process.subprocess, "Popen", StoppedAgainWhileKilled)
    child_process.install_stop(tuple(STOPS))
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    with pytest.raises(SystemExit) as stopped:
        child_process.run_child(SLEEPER)
    assert stopped.value.code in (128 + signal.SIGINT, 128 + signal.SIGTERM)
    assert len(started) == 1 and gone(started[0])
