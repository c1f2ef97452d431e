"""Deterministic random-weight models built from a preset.

Timings on random weights are valid (the same matrices are multiplied); the
generated text is meaningless. Tensors are drawn one by one from a generator
seeded by (seed, tensor name), so the same preset and seed give byte-identical
files on any machine, without ever holding the whole model in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from . import chatglm2, shards
from .presets import Preset
from .tokenizer import BOS_ID, EOS_ID, write_tokenizer

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
INIT_STD = 0.02
QKV_SCALE = 1.28


def tensor_shapes(preset: Preset) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of every tensor the preset's checkpoint holds, in the Llama layout or ChatGLM2's."""
    if preset.architecture == "chatglm2":
        return chatglm2.tensor_shapes(preset)
    h, hd = preset.hidden_size, preset.head_dim
    q, kv, ffn = preset.num_attention_heads * hd, preset.num_key_value_heads * hd, preset.intermediate_size
    shapes: list[tuple[str, tuple[int, ...]]] = [("model.embed_tokens.weight", (preset.vocab_size, h))]
    for i in range(preset.num_hidden_layers):
        p = f"model.layers.{i}."
        shapes += [
            (p + "input_layernorm.weight", (h,)),
            (p + "self_attn.q_proj.weight", (q, h)),
            (p + "self_attn.k_proj.weight", (kv, h)),
            (p + "self_attn.v_proj.weight", (kv, h)),
            (p + "self_attn.o_proj.weight", (h, q)),
            (p + "post_attention_layernorm.weight", (h,)),
            (p + "mlp.gate_proj.weight", (ffn, h)),
            (p + "mlp.up_proj.weight", (ffn, h)),
            (p + "mlp.down_proj.weight", (h, ffn)),
        ]
    shapes += [("model.norm.weight", (h,)), ("lm_head.weight", (preset.vocab_size, h))]
    return shapes


def _tensor(name: str, shape: tuple[int, ...], seed: int, dtype: torch.dtype) -> torch.Tensor:
    if name.endswith("norm.weight"):
        return torch.ones(shape, dtype=dtype)
    if name.endswith("inv_freq"):  # a buffer the published checkpoint carries
        return chatglm2.inv_freq(4 * shape[0]).to(dtype)
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    generator = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))
    std = INIT_STD
    if name.endswith("query_key_value.weight"):
        # Attention that depends on position, as in a trained model: with 0.02 at a
        # small width it is nearly uniform, and a wrong rotary embedding changes no
        # token. 1.28 / sqrt(width) is 0.02 at ChatGLM2-6B's width of 4096.
        std = QKV_SCALE / shape[1] ** 0.5
    return (torch.randn(shape, generator=generator) * std).to(dtype)


def model_config(preset: Preset, dtype: str) -> dict:
    """The preset's config.json for `dtype`: LlamaForCausalLM's, or the published ChatGLM2 checkpoint's."""
    if preset.architecture == "chatglm2":
        return chatglm2.checkpoint_config(preset, dtype)
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": preset.hidden_size,
        "num_hidden_layers": preset.num_hidden_layers,
        "intermediate_size": preset.intermediate_size,
        "num_attention_heads": preset.num_attention_heads,
        "num_key_value_heads": preset.num_key_value_heads,
        "head_dim": preset.head_dim,
        "vocab_size": preset.vocab_size,
        "max_position_embeddings": preset.max_position_embeddings,
        "rms_norm_eps": preset.rms_norm_eps,
        # FastLLM reads only the top-level rope_theta (it silently uses 10000
        # otherwise); transformers 5 reads rope_parameters.
        "rope_theta": preset.rope_theta,
        "rope_parameters": {"rope_type": "default", "rope_theta": preset.rope_theta},
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": False,
        "bos_token_id": BOS_ID,
        "eos_token_id": EOS_ID,
        "pad_token_id": 0,
        "dtype": dtype,
        "torch_dtype": dtype,
    }


def build_synthetic_model(folder: Path, preset: Preset, seed: int, dtype: str) -> dict:
    """Write config, weights, tokenizer and generation config into `folder`."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r} not supported for synthetic models; use one of {sorted(DTYPES)}")
    folder.mkdir(parents=True, exist_ok=True)
    torch_dtype = DTYPES[dtype]
    shapes = dict(tensor_shapes(preset))
    itemsize = torch.empty((), dtype=torch_dtype).element_size()
    plan = shards.plan(((n, itemsize * torch.Size(s).numel()) for n, s in shapes.items()), preset.shard_bytes)

    def draw(names: list[str]) -> dict:
        # Each tensor has its own generator, so drawing them in parallel threads
        # (torch releases the GIL) changes nothing in the bytes written.
        with ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0))) as pool:
            return dict(
                zip(names, pool.map(lambda n: _tensor(n, shapes[n], seed, torch_dtype), names), strict=True)
            )

    total_bytes = shards.write(folder, plan, draw)
    (folder / "config.json").write_text(json.dumps(model_config(preset, dtype), indent=2) + "\n")
    generation = {"bos_token_id": BOS_ID, "eos_token_id": EOS_ID, "pad_token_id": 0}
    (folder / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n")
    # The tokenizer depends on the vocabulary size only, so prompts encode the same for every seed.
    if preset.architecture == "chatglm2":
        tokenizer_size = chatglm2.write_tokenizer_files(folder)
    else:
        tokenizer_size = write_tokenizer(folder, preset.vocab_size)
    return {
        "parameters": preset.parameter_count(),
        "weight_bytes": total_bytes,
        "shards": len(plan),
        "tokenizer_vocab_size": tokenizer_size,
    }
