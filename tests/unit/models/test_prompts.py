"""What the tokenized prompts tell the user: the form the queries took, queries the tokenizer
cannot read, and an overflow of the model's context found before any run."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmbench.io import write_json_atomic
from llmbench.models import prompts as p


def test_a_model_without_a_chat_template_is_said_to_get_raw_text(peer_model, tiny_model):
    """peer's tokenizer has no chat template: its queries are the raw text, and say so."""
    assert p.prompt_form(peer_model) == "raw text"
    assert p.encode_queries(peer_model, ["w3 w4"]) == [[3, 4]]
    assert p.prompt_form(tiny_model) == "chat template"
    assert p.prompt_form(tiny_model, use_chat_template=False) == "raw text"


def test_queries_of_mostly_unknown_tokens_are_warned_about(peer_model):
    queries = ["优酷的地址是哪里？ 在哪", "w3 w4 w5", "w3 unknown"]
    ids = p.encode_queries(peer_model, queries)
    warnings = p.prompt_warnings(queries, ids, p.unknown_id(peer_model))
    assert len(warnings) == 1 and warnings[0].startswith(
        "query 0 ('优酷的地址是哪里？ 在哪'): 100% of its 3 token ids"
    )


def test_a_tokenizer_that_covers_the_queries_gives_no_warning(tiny_model):
    queries = ["优酷的地址是哪里？", "hello"]
    assert p.prompt_warnings(queries, p.encode_queries(tiny_model, queries), p.unknown_id(tiny_model)) == []
    assert p.prompt_warnings(["x"], [[0, 0]], None) == []  # a tokenizer without an unknown token


@given(
    lengths=st.lists(st.integers(1, 300), min_size=1, max_size=5),
    context=st.integers(1, 400),
    outputs=st.dictionaries(st.sampled_from(["loop", "threads", "mine"]), st.integers(1, 200), min_size=1),
)
def test_an_overflow_is_named_exactly_when_a_query_and_its_output_exceed_the_context(
    lengths, context, outputs
):
    problems = p.overflow_problems("m", lengths, context, outputs)
    named = {line.split(":")[0].removeprefix("scenarios.") for line in problems}
    assert named == {name for name, tokens in outputs.items() if max(lengths) + tokens > context}
    assert all(f"exceeds its context ({context})" in line for line in problems)


@given(
    lengths=st.lists(st.integers(1, 300), min_size=1, max_size=5),
    context=st.none() | st.integers(1, 400),
    outputs=st.dictionaries(st.sampled_from(["loop", "threads"]), st.integers(1, 200), min_size=1),
    caps=st.dictionaries(
        st.sampled_from(["loop", "threads", "fixed"]),
        st.dictionaries(
            st.sampled_from(["backend_options.a.cache", "backend_options.b.n_ctx"]), st.integers(1, 400)
        ),
    ),
)
def test_every_limit_a_query_scenario_exceeds_is_named_by_its_key(lengths, context, outputs, caps):
    """A backend's token cap (hf-compile's static cache) refuses a loop as the model's context does."""
    problems = p.overflow_problems("m", lengths, context, outputs, caps)
    expected = {
        (name, key)
        for name, tokens in outputs.items()
        for key, limit in ({"its context": context} if context else {}).items() | caps.get(name, {}).items()
        if max(lengths) + tokens > limit
    }
    named = {
        (line.split(":")[0].removeprefix("scenarios."), line.split(" exceeds ")[1].split(" (")[0])
        for line in problems
    }
    assert named == expected and len(problems) == len(expected)
    assert all(
        f"raise {line.split(' exceeds ')[1].split(' (')[0]}" in line
        for line in problems
        if "context" not in line
    )


def test_an_earlier_tokenization_is_checked_only_when_it_holds_the_same_queries(tmp_path):
    path = tmp_path / "m.json"
    write_json_atomic(path, {"queries": ["a", "b"], "prompt_ids": [[1] * 250, [1] * 10], "context": 256})
    assert p.tokenized_overflow(path, ["a", "b"], "m", {"loop": 16, "threads": 6}) == [
        "scenarios.loop: the longest query of model m is 250 tokens; + output_tokens 16 = 266 exceeds its "
        "context (256). Lower output_tokens or shorten the prompts file"
    ]
    assert p.tokenized_overflow(
        path, ["a", "b"], "m", {"threads": 6}, {"threads": {"backend_options.x.n": 255}}
    ) == [
        "scenarios.threads: the longest query of model m is 250 tokens; + output_tokens 6 = 256 exceeds "
        "backend_options.x.n (255). Lower output_tokens, raise backend_options.x.n or shorten the prompts file"
    ]
    assert p.tokenized_overflow(path, ["other"], "m", {"loop": 16}) == []  # to be tokenized again
    assert p.tokenized_overflow(tmp_path / "absent.json", ["a"], "m", {"loop": 16}) == []


def test_changed_queries_are_tokenized_with_the_earlier_runs_model_folder(tmp_path, tiny_model):
    path = tmp_path / "m.json"
    write_json_atomic(path, {"queries": ["a"], "prompt_ids": [[1]], "context": 10**6})
    queries = ["政策问答" * 20, "w3"]
    longest = max(len(i) for i in p.encode_queries(tiny_model, queries))
    context = p.model_context(tiny_model)
    fits, past = {"loop": context - longest}, {"loop": context - longest + 1}
    assert p.tokenized_overflow(path, queries, "m", fits, model_dir=tiny_model) == []
    assert p.tokenized_overflow(path, queries, "m", past, model_dir=tiny_model) == [
        f"scenarios.loop: the longest query of model m is {longest} tokens; + output_tokens "
        f"{context - longest + 1} = {context + 1} exceeds its context ({context}). Lower output_tokens "
        "or shorten the prompts file"
    ]
    # without the folder (not acquired yet) they are left to tokenize_prompts
    assert p.tokenized_overflow(path, queries, "m", past, model_dir=tmp_path / "absent") == []
    assert p.tokenized_overflow(path, queries, "m", past) == []


def test_query_scenarios_are_those_without_a_length_of_their_own():
    scenarios = {"loop": {"output_tokens": 4}, "fixed": {"input_tokens": 8, "output_tokens": 2}}
    assert p.query_output_tokens(scenarios) == {"loop": 4}


@pytest.mark.parametrize("key", ["max_position_embeddings", "seq_length"])
def test_the_context_comes_from_either_config_key(tmp_path, key):
    (tmp_path / "config.json").write_text(json.dumps({key: 256}))
    assert p.model_context(tmp_path) == 256
    assert p.model_context(tmp_path / "absent") is None


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


def _stand_in_encoder(monkeypatch) -> list:
    """encode_queries replaced by one giving each query its length + 1 ids; returns its calls."""
    calls = []

    def encode(model_dir, queries, use_chat_template=True):
        calls.append(queries)
        return [[1] * (len(q) + 1) for q in queries]

    monkeypatch.setattr(p, "encode_queries", encode)
    return calls


@given(lengths=JSON | st.lists(st.integers(-3, 3).map(str) | st.none() | st.integers(-3, 3), max_size=3))
def test_a_misshapen_token_length_cache_is_encoded_again_and_rewritten(tmp_path_factory, lengths):
    """`lengths` of strings, "12345", [null, 3], {"a": 1}: not a crash of every Snakefile parse,
    only the cost of encoding; the cache then holds the lengths the encoder gives."""
    folder = tmp_path_factory.mktemp("cache")
    (folder / "config.json").write_text(json.dumps({"max_position_embeddings": 64}))
    queries = ["ab", "c"]
    key = p.token_lengths_key(folder, queries, True)
    cache = folder / "cache" / "m.json"
    write_json_atomic(cache, {"key": key, "lengths": lengths})
    with pytest.MonkeyPatch.context() as patch:
        calls = _stand_in_encoder(patch)
        got = p.cached_token_lengths(cache, folder, queries, True)
    well_formed = (
        isinstance(lengths, list)
        and len(lengths) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in lengths)
    )
    assert got == (lengths if well_formed else [3, 2])
    assert len(calls) == (0 if well_formed else 1)
    assert json.loads(cache.read_text()) == {"key": key, "lengths": got}


@pytest.mark.parametrize("text", ["", "{not json", "[1,2]", "null", '{"key": 1}'])
def test_a_cache_that_is_not_json_or_not_an_object_is_encoded_again(tmp_path, monkeypatch, text):
    (tmp_path / "config.json").write_text("{}")
    cache = tmp_path / "cache.json"
    cache.write_text(text)
    calls = _stand_in_encoder(monkeypatch)
    assert p.cached_token_lengths(cache, tmp_path, ["abc"], True) == [4] and len(calls) == 1


def _tokenized_shape(data) -> bool:
    """What tokenize_prompts writes, restated: queries strings, prompt_ids of counts, one list a
    query, context a positive count or null."""

    def count(n):
        return type(n) is int and n >= 0

    return (
        type(data) is dict
        and type(data.get("queries")) is list
        and all(type(q) is str for q in data["queries"])
        and type(data.get("prompt_ids")) is list
        and len(data["prompt_ids"]) == len(data["queries"])
        and all(type(ids) is list and all(map(count, ids)) for ids in data["prompt_ids"])
        and (data.get("context") is None or (count(data["context"]) and data["context"] > 0))
    )


TOKENIZED = st.fixed_dictionaries(
    {},
    optional={
        "queries": JSON | st.just(["a"]),
        "prompt_ids": JSON | st.just([[1, 2]]),
        "context": JSON | st.just(64),
    },
)


@given(data=JSON | TOKENIZED)
def test_a_tokenized_prompts_file_of_another_shape_is_named_to_delete(tmp_path_factory, data):
    """`[]`, `null`, `prompt_ids: null`, a string `context`: one problem naming the file (the
    config check reports it), never an AttributeError or TypeError from rules/common.smk."""
    path = tmp_path_factory.mktemp("tok") / "tiny.json"
    path.write_text(json.dumps(data))
    named = f"{path} is not what tokenize_prompts writes: delete it and rerun"
    got = p.tokenized_overflow(path, ["a"], "tiny", {"loop": 4})
    assert (named in got) == (not _tokenized_shape(data))


def test_a_tokenized_prompts_file_that_is_not_json_is_named(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_bytes(b"\xff\xfe garbage")
    assert p.tokenized_overflow(path, ["a"], "tiny", {"loop": 4}) == [
        f"{path} is not what tokenize_prompts writes: delete it and rerun"
    ]
