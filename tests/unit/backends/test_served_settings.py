"""Served backends: bad settings named before anything runs, and how tokens are split over streamed chunks."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import REPO
from llmbench.backends._served import PromptMismatch, check_prompt, tokens_per_chunk
from llmbench.backends.fastllm_server import served_folder
from llmbench.backends.llamacpp_server import GGUFVocabulary
from llmbench.config import ConfigError, validate_config
from llmbench.models.gguf_export.plans import dummy_piece


def config_with(options: dict) -> dict:
    return {
        "models": {"m": {"source": "synthetic", "preset": "tiny"}},
        "backends": ["openai-server"],
        "correctness": {"reference": "openai-server"},
        "backend_options": {"openai-server": options},
        "scenarios": {"s": {"type": "open-loop", "rates": [1, 2]}},
    }


@pytest.mark.parametrize(
    "options, message",
    [
        (
            {"command": ["vllm", "serve", "{model}"]},
            "backend_options.openai-server.command: the command template has no {port}",
        ),
        ({}, "backend_options.openai-server: set command (a template with {port}) or base_url"),
        ({"base_url": "localhost:8000"}, "backend_options.openai-server.base_url"),
    ],
)
def test_unusable_server_settings_are_rejected_naming_the_key(options, message):
    with pytest.raises(ConfigError) as error:
        validate_config(config_with(options), REPO)
    assert message in str(error.value)


def test_a_url_or_a_template_with_port_is_accepted():
    validate_config(config_with({"base_url": "http://127.0.0.1:8000/v1", "api_key_env": "MY_KEY"}), REPO)
    validate_config(config_with({"command": ["vllm", "serve", "{model}", "--port", "{port}"]}), REPO)


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(st.text(alphabet="ab cd", max_size=4), max_size=12), total=st.none() | st.integers(0, 40)
)
def test_chunk_counts_never_go_negative_and_add_up_to_the_server_count(pieces, total):
    counts = tokens_per_chunk(pieces, lambda text: len(text.split()), total)
    assert len(counts) == len(pieces) and all(c >= 0 for c in counts)
    if total is not None and pieces and sum(counts[:-1]) <= total:
        assert sum(counts) == total


def test_one_token_per_chunk_when_the_server_streams_token_by_token():
    assert tokens_per_chunk(["a ", "b ", "c "], lambda text: len(text.split()), 3) == [1, 1, 1]
    # a chunk of two tokens (e.g. a held-back partial character released with the next one)
    assert tokens_per_chunk(["a ", "b c "], lambda text: len(text.split()), 3) == [1, 2]


@settings(max_examples=50, deadline=None)
@given(size=st.integers(8, 200_000))
def test_every_dummy_piece_is_one_character_of_its_own(size):
    pieces = [dummy_piece(i) for i in (0, 1, size // 2, size - 2, size - 1)]
    assert all(len(p) == 1 and not p.isspace() and not 0xD800 <= ord(p) < 0xE000 for p in pieces)
    assert len(set(pieces)) == len({0, 1, size // 2, size - 2, size - 1})


@settings(max_examples=100, deadline=None)
@given(ids=st.lists(st.integers(0, 999), max_size=40))
def test_ids_written_in_a_gguf_vocabulary_are_read_back_exactly(ids):
    pieces = [dummy_piece(i) for i in range(1000)]
    pieces[0], pieces[1], pieces[2], pieces[999] = "<unk>", "<s>", "</s>", "<0x0A>"
    vocabulary = GGUFVocabulary(pieces)
    assert vocabulary.encode(vocabulary.decode(ids)) == ids


def test_a_text_outside_the_vocabulary_is_refused_naming_the_character():
    vocabulary = GGUFVocabulary([dummy_piece(i) for i in range(10)])
    with pytest.raises(ValueError, match="'x' \\(position 1\\)"):
        vocabulary.encode(dummy_piece(3) + "x")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A served folder of a model with 300 ids (pad 0, BOS 1, EOS 2), and transformers' tokenizer of it."""
    import json

    from transformers import AutoTokenizer

    source = tmp_path_factory.mktemp("model")
    config = {"vocab_size": 300, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
    (source / "config.json").write_text(json.dumps(config))
    (source / "model.safetensors").write_bytes(b"weights")
    (source / "tokenizer.json").write_text("{}")  # the model's own tokenizer: replaced, not linked
    target = tmp_path_factory.mktemp("served") / "model"
    vocabulary = served_folder(source, target)
    return target, vocabulary, AutoTokenizer.from_pretrained(str(target))


@settings(max_examples=60, deadline=None)
@given(ids=st.lists(st.integers(0, 299), min_size=1, max_size=40))
def test_the_served_folder_tokenizes_the_text_of_any_ids_back_to_exactly_those_ids(served, ids):
    folder, vocabulary, tokenizer = served
    # what ftllm serve does with a chat request (llm.py: apply_hf_chat_template, then encode_hf_prompt)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": vocabulary.decode(ids)}], add_generation_prompt=True, tokenize=False
    )
    assert tokenizer.encode(text, add_special_tokens=True) == ids
    assert vocabulary.encode(tokenizer.decode(ids)) == ids


def test_the_served_folder_links_the_weights_and_replaces_the_tokenizer(served):
    folder, vocabulary, _ = served
    assert (folder / "model.safetensors").is_symlink() and (
        folder / "model.safetensors"
    ).read_bytes() == b"weights"
    assert not (folder / "tokenizer.json").is_symlink()
    assert vocabulary.pieces[:3] == ["<unk>", "<s>", "</s>"]


def test_a_server_that_counted_other_prompt_tokens_fails_the_request_naming_both_counts():
    check_prompt(32, {"prompt_tokens": 32}, "backend_options.fastllm-server")
    check_prompt(32, None, "backend_options.fastllm-server")  # no usage: nothing to check
    with pytest.raises(PromptMismatch, match="counted 58 prompt tokens for the 32 ids sent"):
        check_prompt(32, {"prompt_tokens": 58}, "backend_options.fastllm-server")
