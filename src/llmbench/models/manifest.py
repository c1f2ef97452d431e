"""What a model folder holds: every file with its size and sha256, and one hash of it all."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

MANIFEST_VERSION = 1


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(8 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def model_files(folder: Path) -> list[Path]:
    """Files of the model, following symlinks, skipping hidden entries (hub caches)."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def build_manifest(folder: str | Path, source: dict, details: dict | None = None) -> dict:
    """The manifest of `folder`: every file (path, bytes, sha256), total bytes, and one sha256 over
    all paths and hashes, with `source` and `details` as given; raises ValueError for an empty folder."""
    folder = Path(folder)
    files = model_files(folder)
    if not files:
        raise ValueError(f"model folder {folder} holds no files")
    with ThreadPoolExecutor(max_workers=4) as pool:  # hashlib releases the GIL
        hashes = list(pool.map(_sha256, files))
    entries = [
        {"path": str(f.relative_to(folder)), "bytes": f.stat().st_size, "sha256": h}
        for f, h in zip(files, hashes, strict=True)
    ]
    combined = hashlib.sha256("".join(f"{e['path']}\t{e['sha256']}\n" for e in entries).encode()).hexdigest()
    return {
        "manifest_version": MANIFEST_VERSION,
        "source": source,
        "details": details or {},
        "files": entries,
        "total_bytes": sum(e["bytes"] for e in entries),
        "sha256": combined,
    }
