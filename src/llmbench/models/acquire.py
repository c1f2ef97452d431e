"""Put a model into a folder the backends load: synthetic, local or from the hub."""

from __future__ import annotations

import os
from pathlib import Path

from .prepare import mirror
from .presets import get_preset


class ModelSourceError(ValueError):
    """A model source that cannot be used: a local folder missing or without config.json, or an
    unknown source."""

    pass


def check_local_model(path: str | Path) -> Path:
    """`path` as a Path if it is a model folder (one with config.json); raises ModelSourceError otherwise."""
    path = Path(path)
    if not path.is_dir():
        raise ModelSourceError(f"local model folder {path} does not exist")
    if not (path / "config.json").is_file():
        raise ModelSourceError(f"local model folder {path} is not a model: it has no config.json")
    return path


def link_local_model(source: Path, folder: Path) -> None:
    """Mirror a local model folder (per-file symlinks, nothing copied)."""
    mirror(check_local_model(source), folder)


def download_hub_model(repo_id: str, revision: str, folder: Path, token_env: str | None) -> None:
    """Download `repo_id` at `revision` into `folder` with huggingface_hub. The token, if any, is
    read from the environment variable `token_env` here, so it never enters params, logs or results."""
    from huggingface_hub import snapshot_download

    # The token is read here from the environment only: it never enters
    # Snakemake params, logs, results or reports.
    token = os.environ.get(token_env) if token_env else None
    snapshot_download(repo_id, revision=revision, local_dir=folder, token=token or None)


def acquire(model: dict, folder: str | Path) -> dict:
    """Fill `folder` from the model's config entry; returns details for the manifest."""
    folder = Path(folder)
    source = model["source"]
    if source == "synthetic":
        from .synthetic import build_synthetic_model  # imports torch: only when building

        return build_synthetic_model(folder, get_preset(model["preset"]), model["seed"], model["dtype"])
    if source == "local":
        link_local_model(Path(model["path"]), folder)
        return {"path": str(Path(model["path"]).resolve())}
    if source == "hub":
        download_hub_model(model["repo_id"], model["revision"], folder, model.get("token_env"))
        return {"repo_id": model["repo_id"], "revision": model["revision"]}
    raise ModelSourceError(f"unknown model source {source!r}")
