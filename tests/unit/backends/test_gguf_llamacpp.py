"""llama.cpp computes what transformers computes, from the GGUF llmbench writes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gguf_models import (
    FP32_TOLERANCE,
    GREEDY_TOKENS,
    Runner,
    _eos,
    _logits,
    _masked_greedy,
    _prompts,
    _reference,
)
from llmbench.models.gguf_export import export_gguf, tensor_names


@pytest.mark.parametrize("name", ["tiny", "chatglm2-tiny", "hf-llama", "hf-llama-tied"])
def test_llama_cpp_computes_the_exported_model_as_transformers_does(name, models, llama_cpp, tmp_path):
    source, reference_folder = models[name]
    facts = export_gguf(source, tmp_path / "model.gguf", "float32")
    assert facts["architecture"] == ("chatglm" if name.startswith("chatglm2") else "llama")
    assert facts["bytes"] == (tmp_path / "model.gguf").stat().st_size
    reference = _reference(reference_folder)
    runner = Runner(llama_cpp, tmp_path / "model.gguf")
    try:
        assert runner.n_vocab == reference.config.vocab_size
        for ids in _prompts(name, runner.n_vocab):
            delta = np.abs(runner.prompt_logits(ids) - _logits(reference, ids)).max()
            assert delta <= FP32_TOLERANCE, f"{name}: max |Δlogit| {delta:.3g}"
            expected = _masked_greedy(reference, ids, GREEDY_TOKENS)
            assert runner.greedy(ids, GREEDY_TOKENS, _eos(reference)) == expected
    finally:
        runner.close()


def test_the_vocabulary_has_exactly_vocab_size_tokens_and_only_eos_ends_generation(
    models, llama_cpp, tmp_path
):
    import gguf

    for name in ("tiny", "chatglm2-tiny"):
        path = tmp_path / f"{name}.gguf"
        facts = export_gguf(models[name][0], path, "float32")
        tokens = gguf.GGUFReader(str(path)).fields["tokenizer.ggml.tokens"]
        assert len(tokens.data) == facts["vocab_size"]
        runner = Runner(llama_cpp, path)
        try:
            # llama.cpp would stop on any end-of-generation id; with a dummy vocabulary only EOS is one.
            assert runner.eog_ids() == [2]
        finally:
            runner.close()


@pytest.mark.parametrize("name", ["tiny", "chatglm2-tiny"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_exports_are_as_close_to_fp32_as_transformers_in_that_dtype(
    name, dtype, models, llama_cpp, tmp_path
):
    source, reference_folder = models[name]
    path = tmp_path / "model.gguf"
    export_gguf(source, path, dtype)
    ggml = {"float16": "F16", "bfloat16": "BF16"}[dtype]
    types = {shape_len: set() for shape_len in (1, 2)}
    for _, shape, kind in tensor_names(path):
        types[len(shape)].add(kind)
    assert types == {1: {"F32"}, 2: {ggml}}  # matrices in the run dtype, norms and biases in fp32
    fp32, same_dtype = _reference(reference_folder), _reference(reference_folder, getattr(torch, dtype))
    runner = Runner(llama_cpp, path, kv_type={"float16": 1, "bfloat16": 30}[dtype])
    try:
        for ids in _prompts(name, runner.n_vocab):
            exact = _logits(fp32, ids)
            ours = np.abs(runner.prompt_logits(ids) - exact).max()
            theirs = np.abs(_logits(same_dtype, ids) - exact).max()
            assert ours <= 2 * theirs, f"llama.cpp {dtype} {ours:.3g} vs transformers {dtype} {theirs:.3g}"
    finally:
        runner.close()


def test_the_comparison_catches_a_missing_qk_permutation(models, llama_cpp, tmp_path, monkeypatch):
    """The check can fail: exported without llama.cpp's q/k row order, logits move ~3e-2."""
    from llmbench.models.gguf_export import plans

    monkeypatch.setattr(plans, "_llama_permute", lambda weights, heads: weights)
    source, _ = models["hf-llama"]
    export_gguf(source, tmp_path / "wrong.gguf", "float32")
    reference = _reference(source)
    runner = Runner(llama_cpp, tmp_path / "wrong.gguf")
    try:
        ids = _prompts("hf-llama", runner.n_vocab)[1]
        assert np.abs(runner.prompt_logits(ids) - _logits(reference, ids)).max() > 100 * FP32_TOLERANCE
    finally:
        runner.close()
