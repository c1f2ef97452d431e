"""llama.cpp's quantizer on a GGUF the workflow wrote: ``llama_model_quantize`` of the library
llama-cpp-python builds (the `llama-quantize` tool's own function), no separate build.

Where a tensor's rows do not divide into the type's blocks (K-quants take 256 values per
block: the tiny model's 128-wide rows do not), llama.cpp stores that tensor in a fallback
type; the facts returned say which types the file holds and its real bits per weight.
"""

from __future__ import annotations

import ctypes
import os
from collections import Counter
from pathlib import Path

from .precision import weight_format


class QuantizeError(RuntimeError):
    """llama.cpp's quantizer failed or wrote nothing."""


def quantize_gguf(source: str | Path, output: str | Path, weights: str, threads: int) -> dict:
    """Quantize the GGUF `source` to llama.cpp type `weights` (Q8_0, Q4_K_M, ...) at `output`,
    which appears only complete. Returns the stored facts (tensor types, bits per weight over
    the matrices). Raises KeyError for a type not in models.precision, QuantizeError when
    llama.cpp returns non-zero or writes no file."""
    from llama_cpp import llama_cpp as lib

    ftype = weight_format("llamacpp", weights).code
    output = Path(output)
    partial = output.with_name(output.name + ".partial")
    partial.unlink(missing_ok=True)
    params = lib.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads
    status = lib.llama_model_quantize(str(source).encode(), str(partial).encode(), ctypes.byref(params))
    if status != 0 or not partial.is_file() or partial.stat().st_size == 0:
        partial.unlink(missing_ok=True)
        raise QuantizeError(f"llama_model_quantize {source} -> {weights} returned {status} and wrote no file")
    os.replace(partial, output)
    return stored_facts(output)


def stored_facts(path: str | Path) -> dict:
    """A GGUF's matrices as stored: how many tensors of each type, and their bits per weight."""
    from gguf import GGUFReader

    tensors = [t for t in GGUFReader(str(path)).tensors if len(t.shape) == 2]
    values = sum(int(t.n_elements) for t in tensors)
    return {
        "tensor_types": dict(Counter(t.tensor_type.name for t in tensors)),
        "matrix_bits_per_weight": 8 * sum(int(t.n_bytes) for t in tensors) / values if values else None,
    }
