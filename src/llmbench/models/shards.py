"""Weights as safetensors files, split in shards with the index transformers reads."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path


def plan(sizes: Iterable[tuple[str, int]], shard_bytes: int) -> list[list[str]]:
    """Tensor names grouped in order into shards of at most `shard_bytes` (a larger
    tensor gets a shard of its own)."""
    shards: list[list[str]] = [[]]
    size = 0
    for name, nbytes in sizes:
        if shards[-1] and size + nbytes > shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(name)
        size += nbytes
    return shards


def write(folder: Path, shards: list[list[str]], tensors_of: Callable[[list[str]], dict]) -> int:
    """One safetensors file per shard (`model.safetensors` when there is one) and
    model.safetensors.index.json when there are several; `tensors_of` gives a shard's
    tensors, so only one shard need be in memory. Returns the bytes written."""
    from safetensors.torch import save_file

    weight_map: dict[str, str] = {}
    total = 0
    for index, names in enumerate(shards, start=1):
        filename = (
            "model.safetensors" if len(shards) == 1 else f"model-{index:05d}-of-{len(shards):05d}.safetensors"
        )
        tensors = tensors_of(names)
        save_file(tensors, str(folder / filename), metadata={"format": "pt"})
        weight_map |= dict.fromkeys(tensors, filename)
        total += sum(t.numel() * t.element_size() for t in tensors.values())
        del tensors
    if len(shards) > 1:
        index_doc = {"metadata": {"total_size": total}, "weight_map": weight_map}
        (folder / "model.safetensors.index.json").write_text(json.dumps(index_doc, indent=2) + "\n")
    return total
