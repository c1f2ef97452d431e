"""The queries a scenario sends, and the token ids every backend receives."""

from __future__ import annotations

from pathlib import Path


class PromptsError(ValueError):
    """The prompts file is missing, not UTF-8, or holds no query."""

    pass


def read_queries(path: str | Path) -> list[str]:
    """One query per non-blank line of a UTF-8 text file."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise PromptsError(f"prompts file {path} does not exist") from None
    except UnicodeDecodeError as error:
        raise PromptsError(
            f"prompts file {path} is not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
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
