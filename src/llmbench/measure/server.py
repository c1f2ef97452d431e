"""The life of a server a served backend measures: a free port, start, health wait, log, stop.

The server runs in a session (process group) of its own with stdin closed and
its output appended to a log file kept beside the run's log; it is killed if
the worker that started it dies (PR_SET_PDEATHSIG). `stop()` ends the whole
group: SIGTERM, then SIGKILL after a grace period. Every failure names what it
came from: the config key of the command or URL, the log's last lines.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..io import tail
from .launcher import _die_with_parent

HEALTH_POLL_S = 0.25


class ServerError(RuntimeError):
    """The server could not be started, never became healthy, or refused connections."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill_template(template: list[str], key: str, **values: str) -> list[str]:
    """`template` with `{port}`, `{model}`, ... filled in; raises ValueError naming `key` when `{port}` is
    missing (the server would listen where nobody looks) or a placeholder is unknown."""
    if not any("{port}" in part for part in template):
        raise ValueError(f"{key}: the command template has no {{port}}: {' '.join(template)}")
    try:
        return [part.format(**values) for part in template]
    except (KeyError, IndexError) as error:
        raise ValueError(f"{key}: unknown placeholder {error} in {' '.join(template)}") from error


def probe(url: str, timeout_s: float = 2.0) -> int | None:
    """HTTP status of GET `url`, or None when nothing answers (refused, reset, timed out)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


class Server:
    """A server process: ``start()``, ``wait_healthy()``, ``stop()`` (also as a context manager)."""

    def __init__(self, command: list[str], log: str | Path, key: str, env: dict | None = None):
        self.command, self.log, self.key = command, Path(log), key
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        """The server's process id (None before start)."""
        return self.process.pid if self.process else None

    def start(self) -> None:
        """Starts the command in its own session; raises ServerError naming the key if it cannot exec."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            try:
                self.process = subprocess.Popen(
                    self.command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self.env,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
            except OSError as error:
                raise ServerError(f"{self.key}: cannot start {self.command[0]!r}: {error}") from error

    def wait_healthy(self, url: str, timeout_s: float) -> float:
        """Polls GET `url` until it answers 200; returns the seconds it took. Raises ServerError naming the key
        when the server exits first or `timeout_s` passes (the log's tail in the message)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if self.process is not None and self.process.poll() is not None:
                raise ServerError(
                    f"{self.key}: the server exited with status {self.process.returncode} before it was healthy;"
                    f" log tail: {tail(self.log)}"
                )
            if probe(url) == 200:
                return time.monotonic() - started
            time.sleep(HEALTH_POLL_S)
        raise ServerError(
            f"{self.key}: the server was not healthy at {url} after {timeout_s:g} s; log tail: {tail(self.log)}"
        )

    def alive(self) -> bool:
        """True while the server process runs."""
        return self.process is not None and self.process.poll() is None

    def stop(self, grace_s: float = 5.0) -> int | None:
        """Ends the server's process group (SIGTERM, SIGKILL after `grace_s`); returns its exit status."""
        if self.process is None:
            return None
        for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, None)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        self.process.wait()
        _reap_group(self.process.pid)
        return self.process.returncode

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _reap_group(pgid: int) -> None:
    """SIGKILL whatever is left of process group `pgid` (children the server started)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
