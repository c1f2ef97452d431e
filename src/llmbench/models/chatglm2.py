"""ChatGLM2 checkpoints: their format, the port to transformers' native GLM, and
the folder FastLLM loads.

ChatGLM2's own modelling code (trust_remote_code) no longer loads on
transformers 5, but its weights map exactly onto `GlmForCausalLM`: the fused
QKV splits by rows into q/k/v, `dense_h_to_4h` is already GLM's fused
`gate_up_proj` (gate first), and GLM's partial rotary (half of each head,
interleaved pairs) is ChatGLM2's. The layer norm epsilon must be copied
explicitly: GLM's default differs.
"""

from __future__ import annotations

import json
from pathlib import Path

# ChatGLM2's tokenizer appends these after its SentencePiece pieces; 64 789
# pieces in the published one, hence [gMASK] = 64790 and sop = 64792, which
# FastLLM also hard-codes.
SPECIAL_TOKENS = ["[MASK]", "[gMASK]", "[sMASK]", "sop", "eop"]
PIECES = 64789
ROUND_PROMPT = "[Round 1]\n\n问：{query}\n\n答："


def is_chatglm2(config: dict) -> bool:
    """Whether a config.json is ChatGLM2's: model_type chatglm with multi_query_group_num."""
    return config.get("model_type") == "chatglm" and "multi_query_group_num" in config


def read_config(folder: str | Path) -> dict:
    """The config.json of `folder`, parsed."""
    return json.loads((Path(folder) / "config.json").read_text())


def checkpoint_config(preset, dtype: str) -> dict:
    """config.json as the published checkpoint writes it (configuration_chatglm.py's keys)."""
    return {
        "_name_or_path": "THUDM/chatglm2-6b",
        "model_type": "chatglm",
        "architectures": ["ChatGLMModel"],
        "auto_map": {
            "AutoConfig": "configuration_chatglm.ChatGLMConfig",
            "AutoModel": "modeling_chatglm.ChatGLMForConditionalGeneration",
            "AutoModelForCausalLM": "modeling_chatglm.ChatGLMForConditionalGeneration",
        },
        "num_layers": preset.num_hidden_layers,
        "padded_vocab_size": preset.vocab_size,
        "hidden_size": preset.hidden_size,
        "ffn_hidden_size": preset.intermediate_size,
        "kv_channels": preset.head_dim,
        "num_attention_heads": preset.num_attention_heads,
        "multi_query_attention": True,
        "multi_query_group_num": preset.num_key_value_heads,
        "seq_length": preset.max_position_embeddings,
        "layernorm_epsilon": preset.rms_norm_eps,
        "rmsnorm": True,
        "apply_residual_connection_post_layernorm": False,
        "post_layer_norm": True,
        "add_bias_linear": False,
        "add_qkv_bias": True,
        "bias_dropout_fusion": True,
        "apply_query_key_layer_scaling": True,
        "attention_softmax_in_fp32": True,
        "fp32_residual_connection": False,
        "hidden_dropout": 0.0,
        "attention_dropout": 0.0,
        "original_rope": True,
        "quantization_bit": 0,
        "pre_seq_len": None,
        "prefix_projection": False,
        "eos_token_id": 2,
        "pad_token_id": 0,
        "torch_dtype": dtype,
    }


def tensor_shapes(preset) -> list[tuple[str, tuple[int, ...]]]:
    """The published checkpoint's tensor names and shapes."""
    h, hd, ffn = preset.hidden_size, preset.head_dim, preset.intermediate_size
    qkv = (preset.num_attention_heads + 2 * preset.num_key_value_heads) * hd
    shapes: list[tuple[str, tuple[int, ...]]] = [
        ("transformer.embedding.word_embeddings.weight", (preset.vocab_size, h)),
        ("transformer.rotary_pos_emb.inv_freq", (hd // 4,)),
    ]
    for i in range(preset.num_hidden_layers):
        p = f"transformer.encoder.layers.{i}."
        shapes += [
            (p + "input_layernorm.weight", (h,)),
            (p + "self_attention.query_key_value.weight", (qkv, h)),
            (p + "self_attention.query_key_value.bias", (qkv,)),
            (p + "self_attention.dense.weight", (h, preset.num_attention_heads * hd)),
            (p + "post_attention_layernorm.weight", (h,)),
            (p + "mlp.dense_h_to_4h.weight", (2 * ffn, h)),
            (p + "mlp.dense_4h_to_h.weight", (h, ffn)),
        ]
    shapes += [
        ("transformer.encoder.final_layernorm.weight", (h,)),
        ("transformer.output_layer.weight", (preset.vocab_size, h)),
    ]
    return shapes


def inv_freq(head_dim: int):
    """ChatGLM2's rotary frequencies: the first half of each head, in pairs."""
    import torch

    rotary = head_dim // 2
    return 1.0 / (10000 ** (torch.arange(0, rotary, 2, dtype=torch.float32) / rotary))


def load_weights(folder: str | Path) -> dict:
    """name -> torch.Tensor, every tensor of a checkpoint folder (see models.checkpoint: safetensors,
    or the published pytorch_model*.bin); raises FileNotFoundError when it has no weights."""
    from .checkpoint import Checkpoint

    with Checkpoint(folder) as checkpoint:
        return {name: checkpoint.get(name) for name in checkpoint.names()}


def glm_config(config: dict) -> dict:
    """ChatGLM2's config.json translated for transformers' GlmForCausalLM."""
    dtype = config.get("torch_dtype", "float16")
    return {
        "architectures": ["GlmForCausalLM"],
        "model_type": "glm",
        "vocab_size": config["padded_vocab_size"],
        "hidden_size": config["hidden_size"],
        "intermediate_size": config["ffn_hidden_size"],
        "num_hidden_layers": config["num_layers"],
        "num_attention_heads": config["num_attention_heads"],
        "num_key_value_heads": config["multi_query_group_num"]
        if config.get("multi_query_attention")
        else config["num_attention_heads"],
        "head_dim": config["kv_channels"],
        "hidden_act": "silu",
        "max_position_embeddings": config["seq_length"],
        "rms_norm_eps": config["layernorm_epsilon"],
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5},
        # Older transformers 5.x read these at the top level only.
        "partial_rotary_factor": 0.5,
        "rope_theta": 10000.0,
        "attention_bias": config.get("add_qkv_bias", True),
        "tie_word_embeddings": False,
        "eos_token_id": config.get("eos_token_id", 2),
        "pad_token_id": config.get("pad_token_id", 0),
        "dtype": dtype,
        "torch_dtype": dtype,
    }


def glm_weights(tensors: dict, config: dict) -> dict:
    """Re-key (and split the fused QKV of) a ChatGLM2 state dict for GlmForCausalLM."""
    import torch

    heads, hd = config["num_attention_heads"], config["kv_channels"]
    groups = config["multi_query_group_num"] if config.get("multi_query_attention") else heads
    split = [heads * hd, groups * hd, groups * hd]
    out = {
        "model.embed_tokens.weight": tensors["transformer.embedding.word_embeddings.weight"],
        "model.norm.weight": tensors["transformer.encoder.final_layernorm.weight"],
        "lm_head.weight": tensors["transformer.output_layer.weight"],
    }
    for i in range(config["num_layers"]):
        src, dst = f"transformer.encoder.layers.{i}.", f"model.layers.{i}."
        for kind in ("weight", "bias"):
            q, k, v = torch.split(tensors[src + f"self_attention.query_key_value.{kind}"], split, dim=0)
            for name, part in (("q", q), ("k", k), ("v", v)):
                out[dst + f"self_attn.{name}_proj.{kind}"] = part.contiguous()
        out |= {
            dst + "input_layernorm.weight": tensors[src + "input_layernorm.weight"],
            dst + "post_attention_layernorm.weight": tensors[src + "post_attention_layernorm.weight"],
            dst + "self_attn.o_proj.weight": tensors[src + "self_attention.dense.weight"],
            # Already GLM's fused layout: the first half is the gate (silu), the second the up projection.
            dst + "mlp.gate_up_proj.weight": tensors[src + "mlp.dense_h_to_4h.weight"],
            dst + "mlp.down_proj.weight": tensors[src + "mlp.dense_4h_to_h.weight"],
        }
    return out


def save_weights(tensors: dict, folder: Path, shard_bytes: int = 2 * 1024**3) -> None:
    """safetensors shards (+ index when more than one), in the order given."""
    from . import shards

    plan = shards.plan(((n, t.numel() * t.element_size()) for n, t in tensors.items()), shard_bytes)
    shards.write(folder, plan, lambda names: {n: tensors[n] for n in names})


def write_glm_folder(source: str | Path, target: str | Path) -> dict:
    """The transformers-native port of a ChatGLM2 checkpoint folder."""
    source, target = Path(source), Path(target)
    config = read_config(source)
    target.mkdir(parents=True, exist_ok=True)
    save_weights(glm_weights(load_weights(source), config), target)
    (target / "config.json").write_text(json.dumps(glm_config(config), indent=2) + "\n")
    generation = {
        "eos_token_id": config.get("eos_token_id", 2),
        "pad_token_id": config.get("pad_token_id", 0),
    }
    (target / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n")
    return {"ported_from": "chatglm2", "layers": config["num_layers"]}


def write_tokenizer_files(folder: Path) -> int:
    """A fast tokenizer standing in for ChatGLM2's SentencePiece model: PIECES
    byte-level BPE pieces (so [gMASK] and sop get the published ids, counted
    after the pieces as ChatGLM2's tokenizer counts them) and a chat template of
    its prompt format, which ftllm wants to find."""
    from .tokenizer import ROUNDS_TEMPLATE, write_tokenizer

    return write_tokenizer(folder, PIECES, chat_template="[gMASK]sop" + ROUNDS_TEMPLATE)


def prompt_ids(folder: str | Path, queries: list[str], rounds: bool = True) -> list[list[int]]:
    """Ids as ChatGLM2's `model.chat` builds them for a first turn: [gMASK] sop,
    then the text `[Round 1]\\n\\n问：…\\n\\n答：` through the checkpoint's own
    tokenizer — its SentencePiece model where it has one (the published
    checkpoint), else its tokenizer.json (the synthetic ones)."""
    folder = Path(folder)
    texts = [ROUND_PROMPT.format(query=q) if rounds else q for q in queries]
    if (folder / "tokenizer.model").is_file():
        import sentencepiece

        sp = sentencepiece.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
        pieces, encode = sp.get_piece_size(), sp.encode
    else:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        pieces = tokenizer.get_vocab_size()
        encode = lambda text: tokenizer.encode(text, add_special_tokens=False).ids  # noqa: E731
    # Special tokens are ids, never text: a query containing "sop" stays text.
    gmask, sop = pieces + SPECIAL_TOKENS.index("[gMASK]"), pieces + SPECIAL_TOKENS.index("sop")
    return [[gmask, sop, *encode(text)] for text in texts]
