"""How many bytes a model's parameters take in the run dtype, and how many one decode step reads.

At batch size 1 a decode step reads every weight once, except the input
embedding table: of it, only the rows of the tokens being decoded. So the bytes
behind the bandwidth roofline are the parameters in the *run* dtype (a float32
folder run in float16 reads half), minus the input embedding unless it is tied
to the output projection (then it is read in full, as the lm_head).

The parameters are those transformers instantiates from the folder's config
(on the meta device: no weight is read), so duplicate weight files on disk (a
hub folder with .safetensors, .bin and original/*.pth) count once, and what a
port drops (ChatGLM2's rotary inv_freq) does not count. A folder transformers
cannot instantiate falls back to the tensor headers of one weight format.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from .checkpoint import Checkpoint

ITEMSIZE = {"float32": 4, "float16": 2, "bfloat16": 2}
# safetensors dtype codes -> bytes, for the header fallback
SAFETENSORS_ITEMSIZE = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
}
EMBEDDING_SUFFIXES = ("embed_tokens.weight", "word_embeddings.weight", "wte.weight", "tok_embeddings.weight")


def _from_meta_model(folder: Path, dtype: str) -> dict:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(folder)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    parameters = list(model.parameters())  # unique: a tied weight appears once
    embedding = model.get_input_embeddings().weight
    output = model.get_output_embeddings()
    tied = output is not None and output.weight is embedding
    return {
        "parameters": sum(p.numel() for p in parameters),
        "parameter_bytes": sum(p.numel() * p.element_size() for p in parameters),
        "embedding_bytes": embedding.numel() * embedding.element_size(),
        "embedding_row_bytes": embedding.shape[1] * embedding.element_size(),
        "tied_embeddings": tied,
        "method": "parameters of the model transformers instantiates (meta device)",
    }


def tensor_shapes(folder: str | Path) -> dict[str, tuple[str, list[int]]]:
    """name -> (stored dtype, shape) of one weight format of `folder` (see models.checkpoint), no
    tensor read. Raises FileNotFoundError when it has neither safetensors nor pytorch_model*.bin."""
    with Checkpoint(folder) as checkpoint:
        return {name: (checkpoint.dtype(name), list(checkpoint.shape(name))) for name in checkpoint.names()}


def _from_headers(folder: Path, dtype: str) -> dict:
    config = json.loads((folder / "config.json").read_text())
    shapes = tensor_shapes(folder)
    size = ITEMSIZE[dtype]

    def nbytes(name: str) -> int:
        stored, shape = shapes[name]
        count = math.prod(shape)
        floating = stored.upper() in ("F64", "F32", "F16", "BF16") or stored.startswith(("float", "bfloat"))
        return count * (size if floating else SAFETENSORS_ITEMSIZE.get(stored.upper(), size))

    embeddings = [n for n in shapes if n.endswith(EMBEDDING_SUFFIXES)]
    embedding = embeddings[0] if embeddings else None
    tied = bool(config.get("tie_word_embeddings", False))
    row = shapes[embedding][1][1] * size if embedding else 0
    return {
        "parameters": sum(math.prod(s) for _, s in shapes.values()),
        "parameter_bytes": sum(nbytes(n) for n in shapes),
        "embedding_bytes": nbytes(embedding) if embedding else 0,
        "embedding_row_bytes": row,
        "tied_embeddings": tied,
        "method": "tensor headers of one weight format (transformers could not instantiate the config)",
    }


def model_bytes(folder: str | Path, dtype: str) -> dict:
    """Parameter bytes in `dtype` and the bytes one batch-1 decode step reads (`decode_bytes`)."""
    folder = Path(folder)
    try:
        facts = _from_meta_model(folder, dtype)
    except Exception:  # an architecture transformers does not know (remote code only)
        facts = _from_headers(folder, dtype)
    unread = 0 if facts["tied_embeddings"] else facts["embedding_bytes"] - facts["embedding_row_bytes"]
    return {**facts, "dtype": dtype, "decode_bytes": facts["parameter_bytes"] - unread}
