"""A model folder as one GGUF file, the format llama.cpp loads.

llama.cpp runs only GGUF files: weights under llama.cpp's own tensor names plus
the hyperparameters as metadata. This module writes that file for the two
layouts llmbench produces, with the `gguf` package's writer and its tensor-name
maps (no tensor name is spelt out here):

- **Llama** (`model_type: llama`: the `tiny` preset, or any folder
  transformers' `LlamaForCausalLM.save_pretrained` writes; GQA, tied or untied
  `lm_head`) → llama.cpp's `llama` architecture. transformers rotates the two
  halves of each head (`rotate_half`); llama.cpp's `llama` graph rotates
  adjacent pairs, so the rows of q_proj and k_proj are permuted per head (the
  first half goes to the even rows, the second to the odd) exactly as llama.cpp's
  own converter does.
- **ChatGLM2** (the published checkpoint's own format, which the `chatglm2-*`
  presets write: `transformer.encoder.layers.N.self_attention.query_key_value`
  ...) → llama.cpp's `chatglm` architecture. No tensor is rearranged: llama.cpp
  keeps the fused QKV with its bias, takes `dense_h_to_4h` whole as `ffn_up`
  (first half gate → silu, second half up, as ChatGLM2 computes it) and rotates
  the first half of each head as adjacent pairs, which is ChatGLM2's rotary; only
  the rotary width (head_dim / 2) goes into the metadata.

Matrices are written in the run dtype (float32, float16 or bfloat16); 1-D
tensors (norm weights, biases) stay float32, as llama.cpp's converter writes them.

The vocabulary: llmbench hands llama.cpp token ids, but llama.cpp refuses a file
without a vocabulary whose size matches the embedding. The file gets a
SentencePiece-type ("llama") vocabulary of exactly vocab_size unique dummy pieces
(`<unk>`, `<s>`, `</s>` at the config's ids, `<0x0A>` so that llama.cpp finds a
newline token, elsewhere one character of its own per id, `plans.dummy_piece`),
because that type needs no merges and no pre-tokenizer, and no dummy piece spells
one of the texts that llama.cpp takes for an end-of-generation token: its
end-of-generation set is exactly the config's EOS id. It cannot tokenize real text;
a text of its pieces (no space prefix is added) it tokenizes back to exactly their
ids, which is how `llamacpp-server` sends ids through a server that takes text.

Tensors are streamed: every tensor's shape is read first (safetensors headers,
or a memory-mapped `torch.load` of `pytorch_model*.bin`), the header and tensor
table are written, then each tensor is read, converted and written alone, so a
12.5 GB checkpoint is never held twice in memory (peak ≈ two copies of the
largest tensor). The file is written beside `output_path` and renamed into
place, so a failure never leaves half a file under that name.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import gguf
import numpy as np
import torch

from ..checkpoint import Checkpoint
from .plans import Plan, plan_for, write_vocabulary

# Run dtype → (torch dtype of the matrices, their GGML type, the file type recorded).
DTYPES = {
    "float32": (torch.float32, gguf.GGMLQuantizationType.F32, gguf.LlamaFileType.ALL_F32),
    "float16": (torch.float16, gguf.GGMLQuantizationType.F16, gguf.LlamaFileType.MOSTLY_F16),
    "bfloat16": (torch.bfloat16, gguf.GGMLQuantizationType.BF16, gguf.LlamaFileType.MOSTLY_BF16),
}
_NUMPY_OF = {torch.float32: np.float32, torch.float16: np.float16, torch.bfloat16: np.uint16}


def export_gguf(model_dir: str | Path, output_path: str | Path, dtype: str) -> dict:
    """Write the model in `model_dir` as one GGUF file at `output_path`.

    `model_dir` holds config.json and the weights (safetensors shards, or the
    published ChatGLM2's pytorch_model*.bin). `dtype` is the run dtype of the
    matrices: "float32", "float16" or "bfloat16" (1-D tensors stay float32).
    Shapes are kept as in the checkpoint ([out_features, in_features]; GGUF
    records them reversed, as ggml counts dimensions).

    Returns facts about the file: architecture (llama.cpp's name), tensors
    (count written), bytes (file size), parameters, dtype, vocabulary (what
    kind), vocab_size, dropped (source tensors not written, e.g. inv_freq or a
    tied lm_head).

    Raises ValueError for an unsupported dtype, architecture (naming the
    config.json key: model_type, rope_parameters.rope_type, hidden_act,
    add_bias_linear, kv_channels, ...), a tensor llama.cpp would not load, or a
    weight llama.cpp needs that the folder lacks (checked before any tensor data
    is written); FileNotFoundError when the folder has no config.json or no
    weights. On any error no file is left at `output_path` (nor a `.partial`).
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r} is not supported for GGUF export; use one of {sorted(DTYPES)}")
    model_dir, output_path = Path(model_dir), Path(output_path)
    config_path = model_dir / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path} is missing")
    config = json.loads(config_path.read_text())
    plan = plan_for(config)
    temporary = output_path.with_name(output_path.name + ".partial")
    output_path.parent.mkdir(parents=True, exist_ok=True)

    try:
        facts = _write(model_dir, temporary, plan, dtype)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, output_path)
    return {**facts, "bytes": output_path.stat().st_size}


def _write(model_dir: Path, temporary: Path, plan: Plan, dtype: str) -> dict:
    torch_dtype, ggml_type, file_type = DTYPES[dtype]
    with contextlib.ExitStack() as stack:
        source = Checkpoint(model_dir)
        stack.callback(source.close)
        writer = gguf.GGUFWriter(temporary, gguf.MODEL_ARCH_NAMES[plan.arch])
        stack.callback(writer.close)
        writer.add_name(model_dir.name)
        writer.add_file_type(file_type)
        writer.add_vocab_size(plan.vocab_size)
        plan.metadata(writer)
        vocabulary = write_vocabulary(writer, plan.vocab_size, plan.special_ids)

        # Pass 1: names, shapes and types only (nothing read but headers).
        order: list[tuple[str, gguf.MODEL_TENSOR, str, torch.dtype]] = []
        dropped: list[str] = []
        parameters = 0
        for name in source.names():
            found = plan.rename(name)
            if found is None:
                dropped.append(name)
                continue
            kind, target = found
            shape = source.shape(name)
            out_dtype = torch_dtype if len(shape) > 1 else torch.float32
            item = torch.empty((), dtype=out_dtype).element_size()
            count = int(np.prod(shape)) if shape else 1
            writer.add_tensor_info(
                target,
                shape,
                np.dtype(_NUMPY_OF[out_dtype]),
                count * item,
                raw_dtype=ggml_type if len(shape) > 1 else gguf.GGMLQuantizationType.F32,
            )
            order.append((name, kind, target, out_dtype))
            parameters += count
        missing = sorted(set(plan.required) - {target for _, _, target, _ in order})
        if missing:
            raise ValueError(
                f"{model_dir} lacks weights llama.cpp needs (as llama.cpp names them): {missing}"
            )
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()

        # Pass 2: one tensor in memory at a time.
        for name, kind, target, out_dtype in order:
            # The writer takes data in the order of the tensor table; make sure it is this one's.
            assert next(iter(writer.tensors[0])) == target
            tensor = plan.transform(kind, source.get(name)).to(out_dtype).contiguous()
            array = tensor.view(torch.uint16).numpy() if out_dtype == torch.bfloat16 else tensor.numpy()
            writer.write_tensor_data(array)
            del tensor, array
        writer.close()
    return {
        "architecture": gguf.MODEL_ARCH_NAMES[plan.arch],
        "tensors": len(order),
        "parameters": parameters,
        "dtype": dtype,
        "vocabulary": vocabulary,
        "vocab_size": plan.vocab_size,
        "dropped": dropped,
    }


def tensor_names(path: str | Path) -> Iterator[tuple[str, tuple[int, ...], str]]:
    """(name, shape as ggml counts it, GGML type) of every tensor in a GGUF file."""
    reader = gguf.GGUFReader(str(path))
    for tensor in reader.tensors:
        yield tensor.name, tuple(int(n) for n in tensor.shape), tensor.tensor_type.name
