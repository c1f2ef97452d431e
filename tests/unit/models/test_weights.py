"""The bytes behind the roofline: parameters in the run dtype, minus what a decode step does not read."""

import json
import shutil

import torch

from llmbench.analyze.roofline import bound_tokens_per_s
from llmbench.measure.bandwidth import measure_bandwidth
from llmbench.models import chatglm2
from llmbench.models.presets import get_preset
from llmbench.models.weights import _from_headers, model_bytes


def test_the_input_embedding_is_not_read_per_decode_step(tiny_model):
    preset = get_preset("tiny")
    facts = model_bytes(tiny_model, "float32")
    assert facts["parameters"] == preset.parameter_count()
    assert facts["parameter_bytes"] == 4 * preset.parameter_count()
    embedding = 4 * preset.vocab_size * preset.hidden_size
    assert facts["embedding_bytes"] == embedding and not facts["tied_embeddings"]
    assert facts["decode_bytes"] == facts["parameter_bytes"] - embedding + 4 * preset.hidden_size


def test_a_float32_folder_run_in_float16_reads_half(tiny_model):
    assert (
        model_bytes(tiny_model, "float16")["decode_bytes"] * 2
        == model_bytes(tiny_model, "float32")["decode_bytes"]
    )


def test_duplicate_weight_formats_count_once(tiny_model, tmp_path):
    """A hub folder with .safetensors, .bin and original/*.pth holds the weights three times."""
    folder = tmp_path / "hub"
    shutil.copytree(tiny_model, folder)
    from safetensors.torch import load_file

    tensors = load_file(str(folder / "model.safetensors"))
    torch.save(tensors, folder / "pytorch_model.bin")
    (folder / "original").mkdir()
    torch.save(tensors, folder / "original" / "consolidated.00.pth")
    once = model_bytes(tiny_model, "float32")
    assert model_bytes(folder, "float32") == once
    assert _from_headers(folder, "float32")["parameter_bytes"] == once["parameter_bytes"]
    (folder / "model.safetensors").unlink()
    assert _from_headers(folder, "float32")["parameter_bytes"] == once["parameter_bytes"]


def test_tied_embeddings_are_read_in_full(tiny_model, tmp_path):
    folder = tmp_path / "tied"
    shutil.copytree(tiny_model, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "tie_word_embeddings": True}))
    facts = model_bytes(folder, "float32")
    assert facts["tied_embeddings"] and facts["decode_bytes"] == facts["parameter_bytes"]


def test_the_6b_shape_bound_rises_by_the_embedding_it_no_longer_counts(tmp_path):
    """ChatGLM2-6B's shape in fp16: 12.49 GB of parameters, of which its 0.53 GB input
    embedding is not read per token; at 4,167 GB/s (the H200's copy bandwidth) the bound
    rises from 333.7 to 348.6 tok/s."""
    preset = get_preset("chatglm2-6b-shape")
    folder = tmp_path / "glm"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps(chatglm2.glm_config(chatglm2.checkpoint_config(preset, "float16")))
    )
    facts = model_bytes(folder, "float16")
    assert facts["parameter_bytes"] == 2 * preset.parameter_count() == 12_487_168_000
    assert facts["embedding_bytes"] == 2 * 65024 * 4096  # 0.533 GB
    files_bound = bound_tokens_per_s(4167e9, facts["parameter_bytes"])
    decode_bound = bound_tokens_per_s(4167e9, facts["decode_bytes"])
    assert (round(files_bound, 1), round(decode_bound, 1)) == (333.7, 348.6)


def test_the_bandwidth_probe_says_where_it_measured():
    measured = measure_bandwidth("cpu", threads=1, gib=0.01, seconds=0.05, trials=2)
    assert measured["available"] and measured["device"] == "cpu" and measured["bytes_per_s"] > 1e8
    assert measured["copies_per_trial"] >= 8 and measured["trials"] == 2
    assert measure_bandwidth("cuda", threads=1) == {
        "device": "cuda",
        "available": False,
        "reason": "torch sees no CUDA device",
    }
