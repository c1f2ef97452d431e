"""The precision axis: which quantized weight formats each backend's conversion can write.

A model's `dtype` stays the activation and reference precision; `models.<m>.weights`
asks, per backend, for further runs on quantized weights, each one more run of every
scenario (run key ``backend+format``). Formats are named as the backend names them
(FastLLM's `dtype`, llama.cpp's quantizer types) and belong to the backend's
conversion (its `artifact_kind`): the table below is the only list of them; the
config schema is made from it.

`bits_per_weight` is what one weight costs in the stored file, block scales included
(llama.cpp: its block layout, e.g. Q4_0 stores 32 weights in 16 bytes + a float16
scale = 4.5 bits; the _K_M mixes are given at their main type's rate, a few tensors
are stored wider). It scales the bytes one decode step reads (the roofline).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WeightFormat:
    """One quantized weight format of one conversion."""

    name: str  # as the backend names it
    bits_per_weight: float  # stored bits per weight, scales included
    value_bits: int  # bits of one quantized value: its kind (8: int8, Q8_0; 4: int4, Q4_K_M, NF4)
    devices: tuple[str, ...] = ("cpu", "cuda")  # where the backend can run it
    code: int | None = None  # the converter's own id (llama.cpp: llama_ftype)


def _table(*formats: WeightFormat) -> dict[str, WeightFormat]:
    return {f.name: f for f in formats}


# artifact_kind -> format name -> format. transformers (the folder it loads, quantized as it
# loads, by the method's own transformers config; backends/hf.py builds each): torchao's weight-only
# int8 (per-row scales) and int4 (per-row scales; torchao's generic Intx layout keeps the int4
# values unpacked in int8, so it stores 8 bits: its packed int4 layouts need rows divisible by
# their group, which the tiny model's 344-wide rows are not) - both run on CPU; bitsandbytes'
# LLM.int8() and NF4 (64-value blocks, a float32 scale each: 4.5 bits), which llmbench runs on
# CUDA only. FastLLM: the `dtype` of llm.model() at conversion
# (int8: per-row min and scale; int4: the same at 4 bits). llama.cpp: LLAMA_FTYPE_MOSTLY_<name>
# of llama.h, the type llama_model_quantize writes (tests check the codes against llama_cpp).
FORMATS: dict[str, dict[str, WeightFormat]] = {
    "hf": _table(
        WeightFormat("torchao-int8", 8.0, 8),
        WeightFormat("torchao-int4", 8.0, 4),
        WeightFormat("bnb-int8", 8.0, 8, devices=("cuda",)),
        WeightFormat("bnb-nf4", 4.5, 4, devices=("cuda",)),
    ),
    "fastllm": _table(
        WeightFormat("int8", 8.0, 8),
        WeightFormat("int4", 4.0, 4),
    ),
    "llamacpp": _table(
        WeightFormat("Q8_0", 8.5, 8, code=7),
        WeightFormat("Q6_K", 6.5625, 6, code=18),
        WeightFormat("Q5_K_M", 5.5, 5, code=17),
        WeightFormat("Q5_K_S", 5.5, 5, code=16),
        WeightFormat("Q5_1", 6.0, 5, code=9),
        WeightFormat("Q5_0", 5.5, 5, code=8),
        WeightFormat("Q4_K_M", 4.5, 4, code=15),
        WeightFormat("Q4_K_S", 4.5, 4, code=14),
        WeightFormat("Q4_1", 5.0, 4, code=3),
        WeightFormat("Q4_0", 4.5, 4, code=2),
        WeightFormat("Q3_K_M", 3.4375, 3, code=12),
        WeightFormat("Q2_K", 2.625, 2, code=10),
    ),
}


def formats_of(artifact_kind: str) -> dict[str, WeightFormat]:
    """The quantized formats a conversion writes (empty: the backend has none)."""
    return FORMATS.get(artifact_kind, {})


def weight_format(artifact_kind: str, name: str) -> WeightFormat:
    """Format `name` of a conversion; raises KeyError naming the known ones."""
    known = formats_of(artifact_kind)
    if name not in known:
        raise KeyError(f"{artifact_kind} has no weight format {name!r}; known: {', '.join(known) or 'none'}")
    return known[name]


def value_bits(artifact_kind: str, weights: str | None) -> int | None:
    """The kind of a run's weights: bits of one quantized value (None: the dtype's own)."""
    return None if weights is None else weight_format(artifact_kind, weights).value_bits


def bits_per_weight(artifact_kind: str, weights: str | None, dtype: str) -> float:
    """Stored bits per weight of a run: the format's, or the dtype's (16 or 32) for None."""
    if weights is None:
        return 32.0 if dtype == "float32" else 16.0
    return weight_format(artifact_kind, weights).bits_per_weight
