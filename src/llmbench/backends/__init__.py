"""Backend registry: one module per backend, found by name.

A backend named ``foo-bar`` lives in ``llmbench/backends/foo_bar.py`` and
exposes ``BACKEND``, a subclass of :class:`base.Backend`. Adding a backend
means adding one module; nothing else in the project lists backends.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import Backend

_NOT_BACKENDS = {"base"}


def available() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_BACKENDS]
    return sorted(name.replace("_", "-") for name in names)


def get_backend(name: str) -> type[Backend]:
    if name not in available():
        raise KeyError(f"unknown backend {name!r}; known backends: {', '.join(available())}")
    module = importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
    return module.BACKEND
