"""Backend registry: one module per backend, found by name.

A backend named ``foo-bar`` lives in ``llmbench/backends/foo_bar.py`` and
exposes ``BACKEND``, a subclass of :class:`base.Backend`. Adding a backend
means adding one module (helpers of its own in modules whose names start with
``_``); nothing else in the project lists backends.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import Backend, options_schema, token_caps

_NOT_BACKENDS = {"base"}


def available() -> list[str]:
    """Names of every backend module, sorted."""
    names = [
        m.name
        for m in pkgutil.iter_modules(__path__)
        if m.name not in _NOT_BACKENDS and not m.name.startswith("_")
    ]
    return sorted(name.replace("_", "-") for name in names)


def module_name(name: str) -> str:
    """The module of backend `name` (``hf-compile`` -> ``llmbench.backends.hf_compile``)."""
    return f"{__name__}.{name.replace('-', '_')}"


def get_backend(name: str) -> type[Backend]:
    """The backend class of `name`; raises KeyError naming the known backends."""
    if name not in available():
        raise KeyError(f"unknown backend {name!r}; known backends: {', '.join(available())}")
    return importlib.import_module(module_name(name)).BACKEND


def improvements_of(name: str) -> list[str]:
    """The backends whose `improves_on` is `name`, sorted (``hf`` -> ``["hf-compile"]``)."""
    return [b for b in available() if get_backend(b).improves_on == name]


def weight_formats(name: str) -> dict:
    """The quantized weight formats backend `name` runs (format name -> WeightFormat of
    models.precision): its artifact kind's, or none where it does not apply them."""
    from ..models.precision import formats_of

    backend = get_backend(name)
    return formats_of(backend.artifact_kind) if backend.runs_weight_formats else {}


def make_options(name: str, values: dict):
    """`backend_options.<name>` as the backend's typed Options (validated by the config schema)."""
    return get_backend(name).Options(**values)


def scenario_token_caps(config: dict) -> dict[str, dict[str, int]]:
    """scenario -> {config key: tokens} of the options that bound prompt + output tokens (a
    static cache, a server's context; `caps_tokens` in their Options) among the backends the
    scenario runs, from a validated `config` (unknown backends left out); a scenario without such
    a backend maps to {}."""
    caps = {}
    for scenario, settings in config["scenarios"].items():
        caps[scenario] = {
            f"backend_options.{name}.{key}": tokens
            for name in settings.get("backends") or config["backends"]
            if name in available()  # an unknown one is named by the config check
            for key, tokens in token_caps(make_options(name, config["backend_options"].get(name, {}))).items()
        }
    return caps


def schema_of(name: str) -> dict:
    """JSON schema of `backend_options.<name>`."""
    return options_schema(get_backend(name).Options)


def preload(name: str) -> None:
    """Load backend `name`'s native libraries before anything imports numpy (call it first in a
    process): with numpy first, llama.cpp's CUDA build segfaulted in llama_model_load_from_file
    on the H200 (2026-11). An unknown name does nothing; a missing library is left for
    import_libraries to report."""
    if name in available():
        get_backend(name).preload()
