"""Send everything a rule's script prints - Python or native code - to its log."""

from __future__ import annotations

import logging
import os
import sys


def log_to(path: str) -> logging.Logger:
    """Send this process's stdout and stderr (file descriptors 1 and 2, so native code's too),
    appended and line-buffered, to `path`; returns the `llmbench` logger, at INFO, writing there."""
    handle = open(path, "a", buffering=1, encoding="utf-8")
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(handle.fileno(), 1)
    os.dup2(handle.fileno(), 2)
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True
    )
    return logging.getLogger("llmbench")
