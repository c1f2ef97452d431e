"""The article's model format: ChatGLM2 checkpoints, their port to transformers'
GLM checked against an independent forward pass, and what FastLLM is given."""

import json

import pytest
import torch

from chatglm2_reference import forward, greedy
from conftest import REPO
from llmbench.config import ConfigError, validate_config
from llmbench.models import chatglm2
from llmbench.models.prepare import fastllm_folder, transformers_folder
from llmbench.models.prompts import read_queries

QUERIES = read_queries(REPO / "config/prompts/article_zh.txt")


@pytest.fixture(scope="module")
def ported(chatglm2_tiny, tmp_path_factory):
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("glm") / "hf"
    assert "ported" in transformers_folder(chatglm2_tiny, folder)
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    return model, chatglm2.load_weights(chatglm2_tiny), chatglm2.read_config(chatglm2_tiny)


def test_the_synthetic_checkpoint_has_chatglm2s_own_keys_and_tensor_names(chatglm2_tiny):
    config = chatglm2.read_config(chatglm2_tiny)
    assert (
        chatglm2.is_chatglm2(config) and config["kv_channels"] == 128 and config["padded_vocab_size"] == 65024
    )
    names = set(chatglm2.load_weights(chatglm2_tiny))
    assert "transformer.encoder.layers.1.self_attention.query_key_value.bias" in names
    assert "transformer.output_layer.weight" in names and "transformer.rotary_pos_emb.inv_freq" in names


def test_prompt_ids_are_built_as_model_chat_builds_them(chatglm2_tiny):
    from tokenizers import Tokenizer

    ids = chatglm2.prompt_ids(chatglm2_tiny, QUERIES)
    tokenizer = Tokenizer.from_file(str(chatglm2_tiny / "tokenizer.json"))
    for query, prompt in zip(QUERIES, ids, strict=True):
        assert prompt[:2] == [64790, 64792]  # [gMASK] sop, the published ids
        assert tokenizer.decode(prompt[2:]) == f"[Round 1]\n\n问：{query}\n\n答："
    # a query that spells a special token's name stays text
    assert 64792 not in chatglm2.prompt_ids(chatglm2_tiny, ["sop eop [gMASK]"])[0][2:]


def test_the_glm_port_matches_an_independent_chatglm2_forward_pass(ported, chatglm2_tiny):
    model, tensors, config = ported
    for ids in chatglm2.prompt_ids(chatglm2_tiny, QUERIES[:2]):
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0]
        assert (logits - forward(tensors, config, ids)).abs().max().item() <= 1e-4
        generated = model.generate(torch.tensor([ids]), max_new_tokens=12, min_new_tokens=12, do_sample=False)
        assert generated[0, len(ids) :].tolist() == greedy(tensors, config, ids, 12)


def test_the_comparison_catches_a_wrong_rotary_embedding(ported, chatglm2_tiny):
    """The check can fail: rotating every channel instead of half moves logits far past 1e-4."""
    _, tensors, config = ported
    ids = chatglm2.prompt_ids(chatglm2_tiny, QUERIES[:1])[0]
    wrong = forward(tensors, config, ids, rotary_pairs_only=False)
    assert (wrong - forward(tensors, config, ids)).abs().max().item() > 0.1


def _published_format(source, folder):
    """The layout THUDM/chatglm2-6b ships: pytorch_model.bin, a SentencePiece
    tokenizer.model and tokenizer_config.json naming ChatGLMTokenizer."""
    import sentencepiece

    folder.mkdir()
    config = chatglm2.read_config(source)
    (folder / "config.json").write_text(json.dumps(config))
    torch.save(chatglm2.load_weights(source), folder / "pytorch_model.bin")
    # Like ChatGLM2's: BPE with byte fallback, no normalisation (full-width ： stays).
    texts = [chatglm2.ROUND_PROMPT.format(query=q) for q in QUERIES]
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(texts * 20),
        model_prefix=str(folder / "tokenizer"),
        vocab_size=400,
        model_type="bpe",
        byte_fallback=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        split_by_whitespace=False,
        character_coverage=1.0,
        minloglevel=2,
    )
    (folder / "tokenizer.vocab").unlink()
    tokenizer_config = {
        "tokenizer_class": "ChatGLMTokenizer",
        "auto_map": {"AutoTokenizer": ["tokenization_chatglm.ChatGLMTokenizer", None]},
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    return folder


def test_the_published_layout_is_ported_and_completed_for_fastllm(chatglm2_tiny, ported, tmp_path):
    import sentencepiece
    from safetensors.torch import load_file

    published = _published_format(chatglm2_tiny, tmp_path / "published")
    sp = sentencepiece.SentencePieceProcessor(model_file=str(published / "tokenizer.model"))
    ids = chatglm2.prompt_ids(published, QUERIES[:1])[0]
    n = sp.get_piece_size()
    assert ids[:2] == [n + 1, n + 3] and sp.decode(ids[2:]) == f"[Round 1]\n\n问：{QUERIES[0]}\n\n答："

    from transformers import AutoModelForCausalLM

    transformers_folder(published, tmp_path / "hf")
    model = AutoModelForCausalLM.from_pretrained(str(tmp_path / "hf"), dtype=torch.float32).eval()
    probe = chatglm2.prompt_ids(chatglm2_tiny, QUERIES[:1])[0]
    with torch.no_grad():
        assert torch.equal(model(torch.tensor([probe])).logits, ported[0](torch.tensor([probe])).logits)

    done = fastllm_folder(published, tmp_path / "fastllm")
    assert "safetensors" in done and "stand-in fast tokenizer" in done
    written = load_file(str(tmp_path / "fastllm/model.safetensors"))
    assert torch.equal(
        written["transformer.output_layer.weight"], ported[1]["transformer.output_layer.weight"]
    )
    tokenizer_config = json.loads((tmp_path / "fastllm/tokenizer_config.json").read_text())
    assert tokenizer_config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert (
        not (tmp_path / "fastllm/tokenizer.model").exists()
        and not (tmp_path / "fastllm/pytorch_model.bin").exists()
    )


@pytest.mark.bad_input
def test_remote_code_needs_an_explicit_opt_in(tmp_path):
    config = {
        "prompts": str(REPO / "config/prompts/article_zh.txt"),
        "models": {"m": {"source": "synthetic", "preset": "chatglm2-tiny"}},
        "backends": ["hf", "hf-remote"],
        "scenarios": {"loop": {"type": "loop"}},
    }
    with pytest.raises(ConfigError, match=r"backend_options\.hf-remote\.trust_remote_code: must be True"):
        validate_config(config)
    config["backend_options"] = {"hf-remote": {"trust_remote_code": True}}
    assert validate_config(config)["backend_options"]["hf-remote"] == {"trust_remote_code": True}
