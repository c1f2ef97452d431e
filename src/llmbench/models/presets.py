"""Named architectures for synthetic models.

Every preset is a Llama-style decoder: both transformers and FastLLM load that
architecture natively, so one folder serves both backends.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Preset:
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
    # Shards keep single safetensors files small enough to write and hash in pieces.
    shard_bytes: int = 2 * 1024**3

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def parameter_count(self) -> int:
        h, kv = self.hidden_size, self.num_key_value_heads * self.head_dim
        attention = 2 * h * h + 2 * h * kv
        mlp = 3 * h * self.intermediate_size
        per_layer = attention + mlp + 2 * h
        embeddings = 2 * self.vocab_size * h  # untied input embedding + lm_head
        return self.num_hidden_layers * per_layer + embeddings + h

    def as_dict(self) -> dict:
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
    # ChatGLM2-6B's sizes (~6.2 B parameters) in a Llama layout, for the GPU.
    "chatglm2-6b-shape": Preset(
        hidden_size=4096,
        num_hidden_layers=28,
        intermediate_size=13696,
        num_attention_heads=32,
        num_key_value_heads=2,
        vocab_size=65024,
        max_position_embeddings=32768,
        default_dtype="float16",
    ),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join(sorted(PRESETS))
        raise KeyError(f"unknown preset {name!r}; known presets: {known}") from None
