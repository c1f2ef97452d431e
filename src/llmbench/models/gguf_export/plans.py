"""What each architecture writes into a GGUF file: llama.cpp's architecture, its
metadata, a rule per tensor, and the vocabulary (see the package's docstring)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gguf
import torch

# Buffers checkpoints carry that are not weights: llama.cpp computes them itself.
_DROPPED_SUFFIXES = ("rotary_emb.inv_freq", "rotary_pos_emb.inv_freq")


@dataclass
class Plan:
    """What one architecture writes: llama.cpp's arch, its metadata, and a rule per tensor."""

    arch: gguf.MODEL_ARCH
    metadata: Callable[[gguf.GGUFWriter], None]
    vocab_size: int
    special_ids: dict[str, int]  # bos / eos / unk / pad → id
    # source name → (llama.cpp's tensor kind, name), None: not written
    rename: Callable[[str], tuple[gguf.MODEL_TENSOR, str] | None]
    # what a tensor of that kind needs done to its values (shape kept)
    transform: Callable[[gguf.MODEL_TENSOR, torch.Tensor], torch.Tensor]
    # llama.cpp's weight names that must all be written, or it refuses the file
    required: list[str]


def _require(config: dict, key: str):
    if key not in config:
        raise ValueError(f"config.json has no {key!r}, which the GGUF export needs")
    return config[key]


def _mapper(
    arch: gguf.MODEL_ARCH, blocks: int, strip: str = ""
) -> Callable[[str], tuple[gguf.MODEL_TENSOR, str] | None]:
    """Source tensor name → llama.cpp's, through gguf's own name map for `arch`;
    a tensor llama.cpp would not load for `arch` is an error, not silently dropped."""
    names = gguf.get_tensor_name_map(arch, blocks)
    known = set(gguf.MODEL_TENSORS[arch])

    def rename(name: str) -> tuple[gguf.MODEL_TENSOR, str] | None:
        if name.endswith(_DROPPED_SUFFIXES):
            return None
        found = names.get_type_and_name(name.removeprefix(strip), try_suffixes=(".weight", ".bias"))
        if found is None or found[0] not in known:
            raise ValueError(
                f"tensor {name!r} has no place in llama.cpp's {gguf.MODEL_ARCH_NAMES[arch]} architecture"
            )
        return found

    return rename


def _required(
    blocks: int, global_kinds: list[gguf.MODEL_TENSOR], block_kinds: list[gguf.MODEL_TENSOR]
) -> list[str]:
    names = [gguf.TENSOR_NAMES[kind] + ".weight" for kind in global_kinds]
    for bid in range(blocks):
        names += [gguf.TENSOR_NAMES[kind].format(bid=bid) + ".weight" for kind in block_kinds]
    return names


def _llama_permute(weights: torch.Tensor, heads: int) -> torch.Tensor:
    """Rows of q/k (or their bias) per head from transformers' halves [x0..x(d/2-1), y0..]
    to llama.cpp's adjacent pairs [x0, y0, x1, y1, ...]. Shape unchanged."""
    return (
        weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def _llama_plan(config: dict) -> Plan:
    heads = _require(config, "num_attention_heads")
    kv_heads = config.get("num_key_value_heads") or heads
    hidden = _require(config, "hidden_size")
    head_dim = config.get("head_dim") or hidden // heads
    blocks = _require(config, "num_hidden_layers")
    if config.get("hidden_act", "silu") != "silu":
        raise ValueError(
            f"config.json: hidden_act {config['hidden_act']!r} is not supported (llama.cpp's llama uses silu)"
        )
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope_type not in ("default", None):
        key = "rope_parameters.rope_type" if "rope_parameters" in config else "rope_scaling.rope_type"
        raise ValueError(
            f"config.json: {key} {rope_type!r} is not supported by the GGUF export (only 'default')"
        )
    theta = rope.get("rope_theta", config.get("rope_theta", 10000.0))

    def metadata(writer: gguf.GGUFWriter) -> None:
        writer.add_context_length(_require(config, "max_position_embeddings"))
        writer.add_embedding_length(hidden)
        writer.add_block_count(blocks)
        writer.add_feed_forward_length(_require(config, "intermediate_size"))
        writer.add_head_count(heads)
        writer.add_head_count_kv(kv_heads)
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
        writer.add_rope_dimension_count(head_dim)
        writer.add_rope_freq_base(float(theta))
        writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))

    rename_base = _mapper(gguf.MODEL_ARCH.LLAMA, blocks)
    tied = bool(config.get("tie_word_embeddings", False))

    def rename(name: str) -> tuple[gguf.MODEL_TENSOR, str] | None:
        found = rename_base(name)
        # A tied lm_head is the embedding again: llama.cpp reuses token_embd when output is absent.
        if tied and found is not None and found[0] == gguf.MODEL_TENSOR.OUTPUT:
            return None
        return found

    def transform(kind: gguf.MODEL_TENSOR, tensor: torch.Tensor) -> torch.Tensor:
        if kind == gguf.MODEL_TENSOR.ATTN_Q:
            return _llama_permute(tensor, heads)
        if kind == gguf.MODEL_TENSOR.ATTN_K:
            return _llama_permute(tensor, kv_heads)
        return tensor

    T = gguf.MODEL_TENSOR
    return Plan(
        arch=gguf.MODEL_ARCH.LLAMA,
        metadata=metadata,
        vocab_size=_require(config, "vocab_size"),
        special_ids=_special_ids(config),
        rename=rename,
        transform=transform,
        required=_required(
            blocks,
            [T.TOKEN_EMBD, T.OUTPUT_NORM] + ([] if tied else [T.OUTPUT]),
            [
                T.ATTN_NORM,
                T.ATTN_Q,
                T.ATTN_K,
                T.ATTN_V,
                T.ATTN_OUT,
                T.FFN_NORM,
                T.FFN_GATE,
                T.FFN_UP,
                T.FFN_DOWN,
            ],
        ),
    )


def _chatglm2_plan(config: dict) -> Plan:
    heads = _require(config, "num_attention_heads")
    head_dim = _require(config, "kv_channels")
    hidden = _require(config, "hidden_size")
    groups = _require(config, "multi_query_group_num") if config.get("multi_query_attention") else heads
    blocks = _require(config, "num_layers")
    # What llama.cpp's chatglm graph hard-codes; another value would load and compute wrongly.
    expected = {
        "rmsnorm": True,
        "add_bias_linear": False,
        "apply_residual_connection_post_layernorm": False,
        "post_layer_norm": True,
    }
    for key, value in expected.items():
        if config.get(key, value) != value:
            raise ValueError(
                f"config.json: {key} {config[key]!r} is not supported by llama.cpp's chatglm (needs {value})"
            )
    if heads * head_dim != hidden:
        # llama.cpp slices K and V out of the fused QKV output at offsets n_embd and 2·n_embd.
        raise ValueError(
            f"config.json: kv_channels {head_dim} × num_attention_heads {heads} != hidden_size {hidden}, "
            "which llama.cpp's chatglm assumes"
        )

    def metadata(writer: gguf.GGUFWriter) -> None:
        writer.add_context_length(_require(config, "seq_length"))
        writer.add_embedding_length(hidden)
        writer.add_block_count(blocks)
        writer.add_feed_forward_length(_require(config, "ffn_hidden_size"))
        writer.add_head_count(heads)
        writer.add_head_count_kv(groups)
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
        # ChatGLM2 rotates the first half of each head, as adjacent pairs.
        writer.add_rope_dimension_count(head_dim // 2)
        writer.add_rope_freq_base(10000.0 * float(config.get("rope_ratio", 1.0)))
        writer.add_layer_norm_rms_eps(float(_require(config, "layernorm_epsilon")))

    T = gguf.MODEL_TENSOR
    return Plan(
        arch=gguf.MODEL_ARCH.CHATGLM,
        metadata=metadata,
        vocab_size=_require(config, "padded_vocab_size"),
        special_ids=_special_ids(config),
        # gguf's map knows ChatGLM's names without the `transformer.` prefix.
        rename=_mapper(gguf.MODEL_ARCH.CHATGLM, blocks, strip="transformer."),
        transform=lambda kind, tensor: tensor,
        required=_required(
            blocks,
            [T.TOKEN_EMBD, T.OUTPUT_NORM, T.OUTPUT],
            [T.ATTN_NORM, T.ATTN_QKV, T.ATTN_OUT, T.FFN_NORM, T.FFN_UP, T.FFN_DOWN],
        ),
    )


def _special_ids(config: dict) -> dict[str, int]:
    ids = {}
    for kind in ("bos", "eos", "pad"):
        value = config.get(f"{kind}_token_id")
        if isinstance(value, list):  # several EOS ids: llama.cpp keeps one EOS id
            value = value[0] if value else None
        if value is not None:
            ids[kind] = int(value)
    return ids


def plan_for(config: dict) -> Plan:
    """The Plan of a config.json: llama, or ChatGLM2; raises ValueError for any other architecture."""
    model_type = config.get("model_type")
    if model_type == "llama":
        return _llama_plan(config)
    if model_type == "chatglm" and "multi_query_group_num" in config:
        return _chatglm2_plan(config)
    raise ValueError(
        f"config.json: model_type {model_type!r} (architectures {config.get('architectures')}) is not "
        "supported by the GGUF export; supported: 'llama' (LlamaForCausalLM) and 'chatglm' in ChatGLM2's "
        "format (with multi_query_group_num)"
    )


# The first dummy piece's code point (CJK, not whitespace, not ▁); pieces run on from it,
# the UTF-16 surrogates skipped.
FIRST_PIECE = 0x4E00
_SURROGATES = range(0xD800, 0xE000)


def dummy_piece(token_id: int) -> str:
    """The dummy piece of `token_id`: one character of its own, so that a text of pieces is
    tokenized back to exactly its ids (no two pieces make a third; nothing falls back to bytes)."""
    code = FIRST_PIECE + token_id
    return chr(code + len(_SURROGATES) if code >= _SURROGATES.start else code)


def write_vocabulary(writer: gguf.GGUFWriter, size: int, special: dict[str, int]) -> str:
    """A SentencePiece-type vocabulary of exactly `size` unique dummy pieces (`dummy_piece`)."""
    for kind, token_id in special.items():
        if not 0 <= token_id < size:
            raise ValueError(f"config.json: {kind}_token_id {token_id} is outside the vocabulary of {size}")
    if 0 not in (special.get("bos"), special.get("eos")):
        special = {"unk": 0, **special}  # SentencePiece's convention, and the pad id of llmbench's models
    tokens = [dummy_piece(i) for i in range(size)]
    ordinary = set(tokens)
    types = [gguf.TokenType.NORMAL] * size
    for kind, text, kind_type in (
        ("unk", "<unk>", gguf.TokenType.UNKNOWN),
        ("bos", "<s>", gguf.TokenType.CONTROL),
        ("eos", "</s>", gguf.TokenType.CONTROL),
    ):
        if kind in special and tokens[special[kind]] in ordinary:
            tokens[special[kind]], types[special[kind]] = text, kind_type
    # llama.cpp looks up SentencePiece's newline byte piece (and warns without one): the last free id.
    newline = max(i for i in range(size) if tokens[i] in ordinary)
    tokens[newline], types[newline] = "<0x0A>", gguf.TokenType.BYTE
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * size)
    writer.add_token_types(types)
    adders = {
        "bos": writer.add_bos_token_id,
        "eos": writer.add_eos_token_id,
        "unk": writer.add_unk_token_id,
        "pad": writer.add_pad_token_id,
    }
    for kind, token_id in special.items():
        adders[kind](token_id)
    # Nothing may be added to the ids llmbench hands over (they are never text anyway).
    writer.add_add_bos_token(False)
    writer.add_add_eos_token(False)
    # No "▁" put before a text (it has no piece and would fall back to bytes that have none either).
    writer.add_add_space_prefix(False)
    return "llama (SentencePiece type), dummy pieces"
