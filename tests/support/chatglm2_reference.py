"""ChatGLM2's forward pass written from its architecture in plain torch, fp32:
an independent reference for the GLM port (it shares no code with transformers
or with llmbench's port). One sequence, no cache."""

from __future__ import annotations

import torch


def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def rotate_first_half(x, positions, rotary_pairs_only=True):
    """ChatGLM2's rotary embedding: on the first half of each head's channels,
    consecutive pairs (2i, 2i+1) turned by position x 10000^(-2i/half)."""
    head_dim = x.shape[-1]
    width = head_dim // 2 if rotary_pairs_only else head_dim
    theta = 1.0 / (10000 ** (torch.arange(0, width, 2, dtype=torch.float32) / width))
    angles = positions[:, None].float() * theta[None, :]  # [seq, width/2]
    cos, sin = angles.cos()[:, None, :], angles.sin()[:, None, :]
    rotated, rest = x[..., :width], x[..., width:]
    even, odd = rotated[..., 0::2], rotated[..., 1::2]
    turned = torch.stack([even * cos - odd * sin, odd * cos + even * sin], dim=-1).flatten(-2)
    return torch.cat([turned, rest], dim=-1)


def forward(tensors: dict, config: dict, ids: list[int], rotary_pairs_only: bool = True) -> torch.Tensor:
    """Logits [seq, vocab] of ChatGLM2 for `ids` (a prompt starting at position 0)."""
    t = {k: v.float() for k, v in tensors.items()}
    heads, hd, groups = config["num_attention_heads"], config["kv_channels"], config["multi_query_group_num"]
    eps = config["layernorm_epsilon"]
    seq = len(ids)
    positions = torch.arange(seq)
    x = t["transformer.embedding.word_embeddings.weight"][torch.tensor(ids)]
    causal = torch.full((seq, seq), float("-inf")).triu(1)
    for i in range(config["num_layers"]):
        p = f"transformer.encoder.layers.{i}."
        h = rms_norm(x, t[p + "input_layernorm.weight"], eps)
        qkv = (
            h @ t[p + "self_attention.query_key_value.weight"].T
            + t[p + "self_attention.query_key_value.bias"]
        )
        q = qkv[:, : heads * hd].view(seq, heads, hd)
        k = qkv[:, heads * hd : (heads + groups) * hd].view(seq, groups, hd)
        v = qkv[:, (heads + groups) * hd :].view(seq, groups, hd)
        q = rotate_first_half(q, positions, rotary_pairs_only)
        k = rotate_first_half(k, positions, rotary_pairs_only)
        # each key/value group serves heads // groups consecutive query heads
        k = k.repeat_interleave(heads // groups, dim=1)
        v = v.repeat_interleave(heads // groups, dim=1)
        scores = torch.einsum("qhd,khd->hqk", q, k) / hd**0.5 + causal
        context = torch.einsum("hqk,khd->qhd", scores.softmax(-1), v).reshape(seq, heads * hd)
        x = x + context @ t[p + "self_attention.dense.weight"].T
        h = rms_norm(x, t[p + "post_attention_layernorm.weight"], eps)
        gate, up = (h @ t[p + "mlp.dense_h_to_4h.weight"].T).chunk(2, dim=-1)
        x = x + (torch.nn.functional.silu(gate) * up) @ t[p + "mlp.dense_4h_to_h.weight"].T
    x = rms_norm(x, t["transformer.encoder.final_layernorm.weight"], eps)
    return x @ t["transformer.output_layer.weight"].T


def greedy(tensors: dict, config: dict, ids: list[int], steps: int) -> list[int]:
    out = list(ids)
    for _ in range(steps):
        out.append(int(forward(tensors, config, out)[-1].argmax()))
    return out[len(ids) :]
