"""The queries a scenario sends, and the token ids every backend receives."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..io import read_json, write_json_atomic


class PromptsError(ValueError):
    """The prompts file is missing, not UTF-8, or holds no query."""

    pass


def read_queries(path: str | Path) -> list[str]:
    """One query per non-blank line of a UTF-8 text file (a leading byte order mark dropped);
    raises PromptsError naming the file when it is missing, not UTF-8 or holds no query."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise PromptsError(f"prompts file {path} does not exist") from None
    except UnicodeDecodeError as error:
        raise PromptsError(
            f"prompts file {path} is not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    # A byte order mark (Windows editors write one) is not part of the first query.
    text = text.removeprefix("\ufeff")
    queries = [line.strip() for line in text.splitlines() if line.strip()]
    if not queries:
        raise PromptsError(f"prompts file {path} holds no query (one query per non-blank line expected)")
    return queries


def encode_queries(
    model_dir: str | Path, queries: list[str], use_chat_template: bool = True
) -> list[list[int]]:
    """Token ids as a chat front end would send them: for a ChatGLM2 checkpoint
    exactly as its `model.chat` builds them; otherwise the model's chat template
    applied to a single user turn (ChatGLM2's `[Round 1]\\n\\n问：…\\n\\n答：` for
    the synthetic Llama-layout models), tokenized without extra special tokens."""
    from . import chatglm2

    if chatglm2.is_chatglm2(chatglm2.read_config(model_dir)):
        return chatglm2.prompt_ids(model_dir, queries, rounds=use_chat_template)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    encoded = []
    for query in queries:
        if use_chat_template and tokenizer.chat_template:
            text = tokenizer.apply_chat_template(
                [{"role": "user", "content": query}], add_generation_prompt=True, tokenize=False
            )
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        else:
            ids = tokenizer(query)["input_ids"]
        encoded.append(list(ids))
    return encoded


# What a front end wraps the queries in: the report says which, never a form that was not used.
FORMS = ("chatglm2 rounds", "chat template", "raw text")
# A query more than this share of whose ids are the unknown token reaches the model as noise.
UNKNOWN_SHARE_WARN = 0.5


def prompt_form(model_dir: str | Path, use_chat_template: bool = True) -> str:
    """How `encode_queries` wraps each query for this model, one of FORMS: ChatGLM2's
    `[Round 1]` prompt, the tokenizer's chat template, or the raw text (no template asked,
    or the tokenizer has none)."""
    from . import chatglm2

    if not use_chat_template:
        return "raw text"
    if chatglm2.is_chatglm2(chatglm2.read_config(model_dir)):
        return "chatglm2 rounds"
    from transformers import AutoTokenizer

    return "chat template" if AutoTokenizer.from_pretrained(str(model_dir)).chat_template else "raw text"


def unknown_id(model_dir: str | Path) -> int | None:
    """The tokenizer's unknown-token id (None when it has none, as byte-level BPE)."""
    from . import chatglm2

    if chatglm2.is_chatglm2(chatglm2.read_config(model_dir)):
        return 0  # SentencePiece's <unk>, and the synthetic tokenizer's first special token
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_dir)).unk_token_id


def prompt_warnings(queries: list[str], ids: list[list[int]], unk: int | None) -> list[str]:
    """One line per query whose ids are mostly `unk` (more than UNKNOWN_SHARE_WARN of them):
    the model would read noise, not the query (a vocabulary without its script)."""
    if unk is None:
        return []
    warnings = []
    for index, (query, query_ids) in enumerate(zip(queries, ids, strict=True)):
        share = sum(i == unk for i in query_ids) / max(len(query_ids), 1)
        if share > UNKNOWN_SHARE_WARN:
            warnings.append(
                f"query {index} ({query[:30]!r}): {share:.0%} of its {len(query_ids)} token ids are the "
                f"unknown token {unk}; the tokenizer does not cover its text"
            )
    return warnings


def model_context(model_dir: str | Path) -> int | None:
    """The context length in tokens a checkpoint's config.json gives (`max_position_embeddings`,
    or ChatGLM2's `seq_length`); None when it gives neither or cannot be read."""
    try:
        config = json.loads((Path(model_dir) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    return config.get("max_position_embeddings") or config.get("seq_length")


def overflow_problems(
    model: str,
    lengths: list[int],
    context: int | None,
    output_tokens: dict[str, int],
    caps: dict[str, dict[str, int]] | None = None,
) -> list[str]:
    """One line per limit that a scenario sending the queries exceeds with its longest prompt
    (`lengths`, in token ids) plus its output tokens (`output_tokens`: scenario -> tokens): the
    model's `context`, and each of `caps` (scenario -> {config key: tokens}, e.g. a backend's
    static cache: backends.scenario_token_caps), named by its key."""
    if not lengths:
        return []
    longest = max(lengths)
    problems = []
    for name, tokens in output_tokens.items():
        limits = ({"its context": context} if context else {}) | {
            key: cap for key, cap in (caps or {}).get(name, {}).items()
        }
        problems += [
            f"scenarios.{name}: the longest query of model {model} is {longest} tokens; + output_tokens "
            f"{tokens} = {longest + tokens} exceeds {key} ({limit}). Lower output_tokens"
            + ("" if key == "its context" else f", raise {key}")
            + " or shorten the prompts file"
            for key, limit in limits.items()
            if longest + tokens > limit
        ]
    return problems


def query_output_tokens(scenarios: dict[str, dict]) -> dict[str, int]:
    """scenario -> output_tokens of the validated scenarios that send the queries: those without
    `input_tokens` (a scenario of random ids sets its own length, checked with the config)."""
    return {name: s["output_tokens"] for name, s in scenarios.items() if "input_tokens" not in s}


def tokenized_overflow(
    path: str | Path,
    queries: list[str],
    model: str,
    output_tokens: dict[str, int],
    caps: dict[str, dict[str, int]] | None = None,
    model_dir: str | Path | None = None,
    use_chat_template: bool = True,
    cache: str | Path | None = None,
) -> list[str]:
    """overflow_problems() from a tokenize_prompts output at `path` when it holds exactly
    `queries` and its model's context (an earlier run tokenized them: a check before anything
    runs); nothing when it is absent or without context; one problem naming it, to delete, when it
    is not what tokenize_prompts writes (not JSON, `[]`, `prompt_ids: null`, a string `context`).

    When it holds other queries (the prompts changed) and `model_dir`, the folder that run
    tokenized with, is there, the new queries are tokenized now (transformers' import, a few
    seconds, paid only then): tokenize_prompts failing on them would first delete the earlier
    output, and going back to the earlier prompts would then rerun every run that read it.
    With `cache` (a JSON file) their lengths are kept there under a digest of what decides them
    (token_lengths_key): the next check of the same inputs, as every Snakefile parse until
    tokenize_prompts reruns (each job's, under a cluster executor), loads no tokenizer."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError:
        return []
    except ValueError:  # not JSON, or not UTF-8
        data = None
    if not _is_tokenized(data):
        return [f"{path} is not what tokenize_prompts writes: delete it and rerun"]
    if data["queries"] == queries:
        lengths, context = [len(i) for i in data["prompt_ids"]], data.get("context")
    elif model_dir is not None and (Path(model_dir) / "config.json").is_file():
        lengths = cached_token_lengths(cache, model_dir, queries, use_chat_template)
        context = model_context(model_dir)
    else:
        return []  # tokenize_prompts checks them
    return overflow_problems(model, lengths, context, output_tokens, caps)


def _is_count(value) -> bool:
    """A whole non-negative number as JSON gives one (a bool is not one)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_tokenized(data) -> bool:
    """Whether `data` has the shape scripts/tokenize_prompts.py writes: `queries` a list of
    strings, `prompt_ids` one list of token ids per query, `context` tokens or null."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("queries"), list)
        and all(isinstance(q, str) for q in data["queries"])
        and isinstance(data.get("prompt_ids"), list)
        and len(data["prompt_ids"]) == len(data["queries"])
        and all(isinstance(ids, list) and all(map(_is_count, ids)) for ids in data["prompt_ids"])
        and (data.get("context") is None or (_is_count(data["context"]) and data["context"] > 0))
    )


def _kept_lengths(kept, key: str, count: int) -> list[int] | None:
    """The token lengths a cache file's JSON `kept` holds under `key`, one count per query
    (`count` queries); None when it holds another key or anything else (a cache of another
    shape is only a cache: it is encoded again and rewritten)."""
    if not isinstance(kept, dict) or kept.get("key") != key:
        return None
    lengths = kept.get("lengths")
    if isinstance(lengths, list) and len(lengths) == count and all(map(_is_count, lengths)):
        return lengths
    return None


# Files of a model folder that hold weights, not the tokenizer: left out of token_lengths_key.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".gguf", ".flm")


def token_lengths_key(model_dir: str | Path, queries: list[str], use_chat_template: bool) -> str:
    """SHA-256 hex digest of what decides the queries' token lengths: the queries, the chat
    template flag, and the name and bytes of every file directly in `model_dir` but weights
    (tokenizer files, config.json, a checkpoint's tokenizer code)."""
    digest = hashlib.sha256(json.dumps([queries, use_chat_template], ensure_ascii=False).encode())
    for file in sorted(Path(model_dir).iterdir()):
        if file.is_file() and not file.name.endswith(WEIGHT_SUFFIXES):
            digest.update(f"\0{file.name}\0{file.stat().st_size}\0".encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def cached_token_lengths(
    cache: str | Path | None, model_dir: str | Path, queries: list[str], use_chat_template: bool
) -> list[int]:
    """Token lengths of `queries` as encode_queries gives them for `model_dir`: read from the JSON
    file `cache` when it holds them under the same token_lengths_key, else encoded and written
    there (an unreadable, unwritable or misshapen cache, e.g. `lengths` of strings, only costs the
    encoding, and is rewritten)."""
    if cache is None:
        return [len(i) for i in encode_queries(model_dir, queries, use_chat_template)]
    key = token_lengths_key(model_dir, queries, use_chat_template)
    try:
        kept = _kept_lengths(read_json(cache), key, len(queries))
    except (OSError, ValueError):  # absent, unreadable, not UTF-8 or not JSON
        kept = None
    if kept is not None:
        return kept
    lengths = [len(i) for i in encode_queries(model_dir, queries, use_chat_template)]
    try:
        write_json_atomic(cache, {"key": key, "lengths": lengths})
    except OSError:
        pass
    return lengths
