"""GGUF export for llama.cpp: every layout llmbench writes, run by llama.cpp and
checked against transformers on the same token ids.

Tolerances are from measurements on this project's CPU (llama-cpp-python 0.3.36,
fp32 weights, fp32 KV cache, flash attention off, 3 prompts):
max |Δlogit| over all prompt positions was 5e-7 (tiny), 2.7e-6 (chatglm2-tiny),
8e-7 (a transformers-written Llama), and all 96 greedy tokens agreed. A wrong
conversion is far off: without the q/k permutation 3e-2 to 5e-2, ChatGLM2's
rotary over the whole head 1.6, over a quarter 1.4. So fp32 must agree within
1e-4. In float16/bfloat16 both libraries round differently; the check there is
that llama.cpp is no further from the fp32 reference than twice transformers in
the same dtype is (measured ratios 0.6-1.2).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from llmbench.models import chatglm2
from llmbench.models.gguf_export import export_gguf


def test_the_published_pytorch_model_bin_exports_the_same_tensors(models, tmp_path):
    import gguf

    source = models["chatglm2-tiny"][0]
    published = tmp_path / "published"
    published.mkdir()
    shutil.copy(source / "config.json", published / "config.json")
    torch.save(chatglm2.load_weights(source), published / "pytorch_model.bin")
    a = export_gguf(source, tmp_path / "a.gguf", "float16")
    b = export_gguf(published, tmp_path / "b.gguf", "float16")
    assert a["dropped"] == b["dropped"] == ["transformer.rotary_pos_emb.inv_freq"]
    ta = {t.name: np.array(t.data) for t in gguf.GGUFReader(str(tmp_path / "a.gguf")).tensors}
    tb = {t.name: np.array(t.data) for t in gguf.GGUFReader(str(tmp_path / "b.gguf")).tensors}
    assert ta.keys() == tb.keys() and all(np.array_equal(ta[k], tb[k]) for k in ta)


def _config_folder(tmp_path, config: dict):
    """A folder with only config.json: the refusal must come before any weight is read."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_an_unsupported_architecture_is_refused_naming_its_config_key(tmp_path):
    folder = _config_folder(tmp_path, {"model_type": "mistral", "architectures": ["MistralForCausalLM"]})
    with pytest.raises(ValueError, match="model_type 'mistral'"):
        export_gguf(folder, tmp_path / "out.gguf", "float32")
    assert not (tmp_path / "out.gguf").exists()


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        (
            "tiny",
            {"rope_parameters": {"rope_type": "llama3", "rope_theta": 5e5}},
            "rope_parameters.rope_type",
        ),
        ("tiny", {"hidden_act": "gelu"}, "hidden_act"),
        ("chatglm2-tiny", {"add_bias_linear": True}, "add_bias_linear"),
        ("chatglm2-tiny", {"kv_channels": 64}, "kv_channels"),
    ],
)
def test_an_unsupported_variant_is_refused_naming_its_config_key(name, change, message, models, tmp_path):
    source = models[name][0]
    config = {**json.loads((source / "config.json").read_text()), **change}
    folder = _config_folder(tmp_path, config)
    with pytest.raises(ValueError, match=message):
        export_gguf(folder, tmp_path / "out.gguf", "float32")


def test_an_unsupported_dtype_is_refused(models, tmp_path):
    with pytest.raises(ValueError, match="dtype 'int8'"):
        export_gguf(models["tiny"][0], tmp_path / "out.gguf", "int8")


def test_a_missing_weight_is_refused_before_anything_is_written(models, tmp_path):
    from safetensors.torch import save_file

    source = models["chatglm2-tiny"][0]
    folder = tmp_path / "incomplete"
    folder.mkdir()
    shutil.copy(source / "config.json", folder / "config.json")
    tensors = chatglm2.load_weights(source)
    del tensors["transformer.output_layer.weight"]
    save_file(tensors, str(folder / "model.safetensors"))
    with pytest.raises(ValueError, match=r"lacks weights llama.cpp needs.*'output.weight'"):
        export_gguf(folder, tmp_path / "out.gguf", "float32")
    assert list(tmp_path.glob("out.gguf*")) == []
