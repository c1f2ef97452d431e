"""File helpers shared by every stage."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any


def _create_beside(path: Path) -> tuple[int, Path]:
    """A new file beside `path` (`.name.<random>.tmp`), open for writing, with the mode open()
    gives a new file: 0o666 less the umask. tempfile.mkstemp's files are 0o600, and os.replace
    keeps the temporary file's mode, so a record, prompts file or manifest written through it
    would be readable by its owner alone."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:  # a name another writer drew: draw again
            continue


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """Write JSON so that `path` holds either the old content or the complete new one, with the
    mode open() would give it (0o666 less the umask).

    A kill mid-write leaves at most a stray temporary file, never half a result.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=1, allow_nan=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: str | os.PathLike) -> Any:
    """The JSON value in the UTF-8 file at `path`."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def tail(path: str | os.PathLike, lines: int = 40) -> str:
    """Last `lines` lines of a text file ('' if it does not exist)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
