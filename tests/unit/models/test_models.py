import json

import pytest
import torch

from llmbench.models.acquire import ModelSourceError, acquire, link_local_model
from llmbench.models.manifest import build_manifest
from llmbench.models.presets import PRESETS, get_preset
from llmbench.models.prompts import encode_queries
from llmbench.models.synthetic import build_synthetic_model, tensor_shapes
from llmbench.models.tokenizer import CHAT_TEMPLATE


def test_chatglm2_shape_preset_has_chatglm2_6b_sizes():
    p = get_preset("chatglm2-6b-shape")
    assert (p.hidden_size, p.num_hidden_layers, p.intermediate_size) == (4096, 28, 13696)
    assert (p.num_attention_heads, p.num_key_value_heads, p.vocab_size) == (32, 2, 65024)
    assert p.default_dtype == "float16"
    assert 6.1e9 < p.parameter_count() < 6.3e9
    shapes = dict(tensor_shapes(p))
    assert shapes["transformer.encoder.layers.27.self_attention.query_key_value.weight"] == (4608, 4096)
    assert shapes["transformer.encoder.layers.0.mlp.dense_h_to_4h.weight"] == (27392, 4096)
    # every tensor but the rotary buffer the published checkpoint also carries is a parameter
    elements = sum(
        torch.Size(shape).numel() for name, shape in shapes.items() if not name.endswith("inv_freq")
    )
    assert elements == p.parameter_count()


def test_unknown_preset_lists_known_ones():
    with pytest.raises(KeyError, match="known presets: chatglm2-6b-shape, chatglm2-tiny, tiny"):
        get_preset("huge")


def test_synthetic_build_is_deterministic_and_seeded(tmp_path, tiny_model):
    again = tmp_path / "again"
    build_synthetic_model(again, get_preset("tiny"), seed=0, dtype="float32")
    other = tmp_path / "other"
    build_synthetic_model(other, get_preset("tiny"), seed=1, dtype="float32")
    source = {"source": "synthetic"}
    first = build_manifest(tiny_model, source)
    assert build_manifest(again, source)["sha256"] == first["sha256"]
    by_path = {f["path"]: f["sha256"] for f in build_manifest(other, source)["files"]}
    weights = {f["path"]: f["sha256"] for f in first["files"]}
    assert by_path["model.safetensors"] != weights["model.safetensors"]
    assert by_path["tokenizer.json"] == weights["tokenizer.json"]  # the tokenizer does not depend on weights


def test_sharded_fp16_build_loads_in_transformers(tmp_path):
    import dataclasses

    from transformers import AutoModelForCausalLM

    preset = dataclasses.replace(get_preset("tiny"), shard_bytes=400_000)
    details = build_synthetic_model(tmp_path, preset, seed=0, dtype="float16")
    assert details["shards"] > 1
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert len(index["weight_map"]) == len(tensor_shapes(preset))
    model = AutoModelForCausalLM.from_pretrained(tmp_path, dtype=torch.float16)
    assert sum(p.numel() for p in model.parameters()) == preset.parameter_count()
    assert model.dtype == torch.float16


def test_tokenizer_fills_the_vocabulary_and_builds_chatglm2_prompts(tiny_model):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    assert len(tokenizer) == PRESETS["tiny"].vocab_size
    assert tokenizer.chat_template == CHAT_TEMPLATE
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "优酷的地址是哪里？"}], add_generation_prompt=True, tokenize=False
    )
    assert text == "<s>[Round 1]\n\n问：优酷的地址是哪里？\n\n答："
    ids = encode_queries(tiny_model, ["优酷的地址是哪里？"])[0]
    assert ids[0] == tokenizer.bos_token_id
    assert tokenizer.decode(ids, skip_special_tokens=True) == text.removeprefix("<s>")


def test_local_model_is_mirrored_by_links_and_never_copied(tmp_path, tiny_model):
    mirror = tmp_path / "mirror"
    details = acquire({"source": "local", "path": str(tiny_model)}, mirror)
    assert details["path"] == str(tiny_model.resolve())
    linked = mirror / "model.safetensors"
    assert linked.is_symlink() and linked.resolve() == (tiny_model / "model.safetensors").resolve()
    import shutil

    shutil.rmtree(mirror)  # what Snakemake does to a failed job's output
    assert (tiny_model / "model.safetensors").is_file()


def test_local_folder_without_config_is_rejected(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"0")
    with pytest.raises(ModelSourceError, match="has no config.json"):
        link_local_model(tmp_path, tmp_path / "mirror")


def test_manifest_lists_every_file_and_skips_hidden_caches(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("b")
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "lock").write_text("x")
    manifest = build_manifest(tmp_path, {"source": "local"})
    assert [f["path"] for f in manifest["files"]] == ["a.txt", "sub/b.txt"]
    assert manifest["total_bytes"] == 2
    (tmp_path / "a.txt").write_text("changed")
    assert build_manifest(tmp_path, {"source": "local"})["sha256"] != manifest["sha256"]
