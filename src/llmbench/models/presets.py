"""Named architectures for synthetic models.

`llama` presets are written in the Llama layout, which transformers and FastLLM
both load natively. `chatglm2` presets are written exactly as the published
ChatGLM2-6B checkpoint is (its config keys and tensor names), so they take the
same path as the real model: ported to transformers' GLM for `hf`, converted
for FastLLM from the ChatGLM2 folder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Preset:
    """One synthetic architecture: its sizes, its format (`llama` or `chatglm2`) and default dtype."""

    hidden_size: int
    num_hidden_layers: int
    intermediate_size: int
    num_attention_heads: int
    num_key_value_heads: int
    vocab_size: int
    max_position_embeddings: int
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5
    default_dtype: str = "float32"
    architecture: str = "llama"  # or "chatglm2"
    # Shards keep single safetensors files small enough to write and hash in pieces.
    shard_bytes: int = 2 * 1024**3

    @property
    def head_dim(self) -> int:
        """hidden_size // num_attention_heads."""
        return self.hidden_size // self.num_attention_heads

    def parameter_count(self) -> int:
        """Parameters of the model as written: untied embedding and lm_head, norms, and ChatGLM2's QKV
        bias."""
        h, kv = self.hidden_size, self.num_key_value_heads * self.head_dim
        attention = 2 * h * h + 2 * h * kv
        mlp = 3 * h * self.intermediate_size
        qkv_bias = h + 2 * kv if self.architecture == "chatglm2" else 0
        per_layer = attention + qkv_bias + mlp + 2 * h
        embeddings = 2 * self.vocab_size * h  # untied input embedding + lm_head
        return self.num_hidden_layers * per_layer + embeddings + h

    def as_dict(self) -> dict:
        """Every field, as a dict."""
        return asdict(self)


PRESETS: dict[str, Preset] = {
    # Runs both backends on two CPU cores in seconds.
    "tiny": Preset(
        hidden_size=128,
        num_hidden_layers=2,
        intermediate_size=344,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=2048,
        max_position_embeddings=2048,
    ),
    # ChatGLM2's format and ids at a size both backends run on two CPU cores. FastLLM's
    # ChatGLM code assumes head_dim 128 and [gMASK] = 64790: hence these sizes.
    "chatglm2-tiny": Preset(
        hidden_size=256,
        num_hidden_layers=2,
        intermediate_size=512,
        num_attention_heads=2,
        num_key_value_heads=1,
        vocab_size=65024,
        max_position_embeddings=2048,
        architecture="chatglm2",
    ),
    # ChatGLM2-6B's sizes and format (~6.2 B parameters), random weights, for the GPU.
    "chatglm2-6b-shape": Preset(
        hidden_size=4096,
        num_hidden_layers=28,
        intermediate_size=13696,
        num_attention_heads=32,
        num_key_value_heads=2,
        vocab_size=65024,
        max_position_embeddings=32768,
        default_dtype="float16",
        architecture="chatglm2",
    ),
}


def get_preset(name: str) -> Preset:
    """The preset `name`; raises KeyError naming the known presets."""
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join(sorted(PRESETS))
        raise KeyError(f"unknown preset {name!r}; known presets: {known}") from None
