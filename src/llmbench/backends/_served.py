"""What every served backend shares: the server's life, the streaming client, counting tokens.

A served backend is a Backend whose engine runs in another process behind an
OpenAI-compatible HTTP API. `load()` starts the server on a free localhost port
(or takes a URL the user runs) and waits until it is healthy; `generate()`
streams one request through :class:`llmbench.measure.stream_client.StreamClient`
and stamps each token at the chunk that brought it; `close()` stops the server
and its process group. `describe()` says `served: true` (the open-loop checks
then hold the client's CPU to account) and the server's PID, log and health time.

Tokens are counted from the server's `usage` (completion_tokens), never from the
number of chunks. A chunk carrying several tokens stamps them all at its arrival
(inter-token gaps of 0 inside it), so every convention of
:mod:`llmbench.analyze.conventions` can be read from the same log; tokens are
split over chunks by the model's tokenizer applied to the text received so far.
Prompts go as text and output ids are the text served back, tokenized again (the
servers take and give text, not ids), each through the backend's `codec()`: the
model's tokenizer by default; `describe()` says which. Lengths are the server's
usage count (`counted_tokens`), so the length check holds the server to it even
where text does not re-tokenize to as many ids (a byte-level BPE's partial UTF-8
comes back as U+FFFD).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from ..measure.server import Server, ServerError, free_port
from ..measure.stream_client import StreamClient, Streamed
from .base import Backend, BackendUnavailable, Generation, option

HEALTH_PATH = "/models"


@dataclass(frozen=True)
class ServedOptions:
    """Settings every served backend has (`backend_options.<name>`)."""

    health_timeout_s: float = option(
        120, "seconds the server has to answer its health check", {"type": "number", "exclusiveMinimum": 0}
    )
    request_timeout_s: float = option(
        600, "seconds one streamed request may take", {"type": "number", "exclusiveMinimum": 0}
    )
    endpoint: str = option(
        "/completions", "the OpenAI endpoint driven", {"enum": ["/completions", "/chat/completions"]}
    )


def tokens_per_chunk(chunks: list[str], count, total: int | None) -> list[int]:
    """How many tokens each chunk brought: differences of `count` (the tokenizer) over the text received so far,
    never negative, the last chunk adjusted so that they add up to `total` (the server's usage) when given."""
    out, seen, text = [], 0, ""
    for piece in chunks:
        text += piece
        now_counted = max(seen, count(text))
        out.append(now_counted - seen)
        seen = now_counted
    if total is not None and out:
        out[-1] = max(0, out[-1] + total - sum(out))
    return out


class Codec(Protocol):
    """Text to ids and back, as the server's own tokenizer does it."""

    def decode(self, ids: list[int]) -> str:
        """The text of `ids`."""
        ...

    def encode(self, text: str) -> list[int]:
        """The ids of `text`."""
        ...


class TokenizerCodec:
    """The model's tokenizer (tokenizer.json in the model folder) as a Codec."""

    def __init__(self, model_dir: str):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))

    def decode(self, ids: list[int]) -> str:
        """The tokenizer's decoding of `ids`."""
        return self.tokenizer.decode(ids)

    def encode(self, text: str) -> list[int]:
        """The tokenizer's ids of `text`, nothing added."""
        return self.tokenizer.encode(text, add_special_tokens=False).ids


class PieceVocabulary:
    """A vocabulary of pieces as a Codec: each id its piece; text back to ids piece by piece, longest piece
    first. Exact for llmbench's served vocabularies, whose pieces are one character each
    (models.gguf_export.plans.dummy_piece) but `<unk>`, `<s>`, `</s>`: no two pieces make a third."""

    def __init__(self, pieces: list[str]):
        self.pieces = list(pieces)
        self.ids = {p: i for i, p in reversed(list(enumerate(self.pieces)))}
        self.longest = max(map(len, self.pieces))

    def decode(self, ids: list[int]) -> str:
        """The pieces of `ids`, joined."""
        return "".join(self.pieces[i] for i in ids)

    def encode(self, text: str) -> list[int]:
        """The ids of `text`, the longest piece matching at each position; ValueError at a character no piece
        begins (not a text of this vocabulary)."""
        ids, at = [], 0
        while at < len(text):
            for size in range(min(self.longest, len(text) - at), 0, -1):
                if (found := self.ids.get(text[at : at + size])) is not None:
                    ids.append(found)
                    at += size
                    break
            else:
                raise ValueError(f"no piece of the vocabulary begins with {text[at]!r} (position {at})")
        return ids


class ServedBackend(Backend):
    """A model served over HTTP; subclasses say how to start their server (`command`) and what to send."""

    artifact_kind = "hf"
    engine: ClassVar[str | None] = None  # the in-process backend running the same engine (the cost line)
    key = "backend_options"  # the config key named by errors (subclasses: backend_options.<name>)
    # How output ids are obtained (describe()): what codec() does to the text served back.
    output_ids_from: ClassVar[str] = "the text served back, re-tokenized by the model's tokenizer"
    # How output tokens are counted (describe()): what chunk_tokens() does.
    token_counting: ClassVar[str] = "usage.completion_tokens; split over chunks by the codec"
    # How the prompt ids reach the server (describe()).
    prompt_sent_as: ClassVar[str] = (
        "the ids decoded to text by the codec; the server tokenizes that text itself"
    )
    # Whether the server must have tokenized exactly the ids sent: its usage.prompt_tokens is then checked per
    # request (PromptMismatch). Only where the codec is the server's own tokenizer and nothing wraps the text.
    exact_prompt: ClassVar[bool] = False
    # Request fields that turn off a server's own default penalties (greedy decoding, nothing else).
    neutral_decoding: ClassVar[dict] = {}

    def command(self, port: int) -> list[str] | None:
        """The server's command line on `port` (None: the user runs the server; see base_url)."""
        raise NotImplementedError

    def base_url(self, port: int | None) -> str:
        """The API's base URL (ending in /v1)."""
        return f"http://127.0.0.1:{port}/v1"

    def api_key(self) -> str | None:
        """The bearer token, if any (read from the environment, never stored in the record)."""
        return None

    def model_name(self) -> str:
        """The `model` field of each request."""
        return "llmbench"

    def load(self) -> None:
        """Starts the server (if this backend runs one) and waits until it is healthy; raises
        BackendUnavailable naming the key when it cannot."""
        self.codec = self.text_codec()
        port = free_port()
        command = self.command(port)
        self.server = None
        self.health_s = None
        log = server_log()
        if command is not None:
            self.server = Server(command, log, self.key)
            try:
                self.server.start()
                self.health_s = self.server.wait_healthy(
                    self.base_url(port) + HEALTH_PATH, self.options.health_timeout_s
                )
            except ServerError as error:
                self.server.stop()
                raise BackendUnavailable(str(error)) from error
        self.url = self.base_url(port)
        self.client = StreamClient(self.url, self.api_key(), self.options.request_timeout_s)

    def text_codec(self) -> Codec:
        """How prompt ids become the text sent and the text served back becomes ids: the model's tokenizer."""
        return TokenizerCodec(self.settings.model_dir)

    def payload(self, prompt_ids: list[int], output_tokens: int) -> dict:
        """The request: the prompt as text (decoded ids), exactly `output_tokens` out, greedy."""
        text = self.codec.decode(prompt_ids)
        body = {
            "model": self.model_name(),
            "max_tokens": output_tokens,
            "min_tokens": output_tokens,
            "temperature": 0,
            "ignore_eos": True,
            **self.neutral_decoding,
        }
        if self.options.endpoint == "/chat/completions":
            return {**body, "messages": [{"role": "user", "content": text}]}
        return {**body, "prompt": text}

    def generate(self, prompt_ids: list[int], output_tokens: int) -> Generation:
        """Streams one request; each token stamped at its chunk's arrival, ids re-tokenized from the text.
        Raises PromptMismatch where `exact_prompt` holds and the server counted other prompt tokens."""
        streamed = self.client.stream(self.options.endpoint, self.payload(prompt_ids, output_tokens))
        if self.exact_prompt:
            check_prompt(len(prompt_ids), streamed.usage, self.key)
        return self.generation(streamed)

    def generation(self, streamed: Streamed) -> Generation:
        """The Generation of a streamed response (see the module's docstring for how tokens are counted)."""
        counts, total = self.chunk_tokens(streamed)
        times = [c.t for c, n in zip(streamed.chunks, counts, strict=True) for _ in range(n)]
        # Re-tokenized text: where it differs in length from the server's count the length check says so.
        ids = self.codec.encode(streamed.text)
        return Generation(ids, streamed.start, times, streamed.end, counted_tokens=total)

    def chunk_tokens(self, streamed: Streamed) -> tuple[list[int], int | None]:
        """(tokens each chunk brought, the server's count or None): the count from `usage`, split over the
        chunks by the codec (an event without text brings none, e.g. a chat's opening role)."""
        total = (streamed.usage or {}).get("completion_tokens")
        counts = tokens_per_chunk(
            [c.text for c in streamed.chunks], lambda text: len(self.codec.encode(text)), total
        )
        return counts, total

    def processes(self) -> list[int]:
        """The server's PID where this backend started it (the sampler measures it with the worker)."""
        return [self.server.pid] if getattr(self, "server", None) else []

    def describe(self) -> dict:
        """served: true, where the server ran, its PID and health wait, how ids were obtained."""
        return {
            "served": True,
            "engine": self.engine,
            "url": self.url,
            "server_pid": self.server.pid if self.server else None,
            "health_s": self.health_s,
            "prompt": self.prompt_sent_as,
            "output_ids": self.output_ids_from,
            "token_counting": self.token_counting,
            **self.server_facts(),
        }

    def server_facts(self) -> dict:
        """What the server was told that its in-process engine also reports (cpu_threads, kv_type): the
        report's cost line sets the two side by side only where they agree. None here: a server the user runs."""
        return {}

    def close(self) -> None:
        """Closes the client and stops the server's process group."""
        if getattr(self, "client", None):
            self.client.close()
        if getattr(self, "server", None):
            self.server.stop()


class PromptMismatch(RuntimeError):
    """The server computed on other prompt tokens than the ids llmbench sent: its outputs are not comparable."""


def check_prompt(sent: int, usage: dict | None, key: str) -> None:
    """Raises PromptMismatch naming `key` when the server's usage.prompt_tokens (absent: nothing to check) is
    not `sent`, the number of prompt ids."""
    served = (usage or {}).get("prompt_tokens")
    if served is not None and served != sent:
        raise PromptMismatch(
            f"{key}: the server counted {served} prompt tokens for the {sent} ids sent (a template or its"
            " tokenizer changed the prompt): its outputs cannot be checked against the reference"
        )


def server_log() -> Path:
    """Where the server writes: the worker's own log (its stdout, which the launcher sends to the run's log),
    so the failure record's log tail shows the server's last words; a file in the working folder otherwise."""
    try:
        target = Path(os.readlink("/proc/self/fd/1"))
    except OSError:
        target = None
    return target if target is not None and target.is_file() else Path("server.log").resolve()


def require(value, key: str, what: str):
    """`value`, or BackendUnavailable naming `key` when it is empty."""
    if not value:
        raise BackendUnavailable(f"{key}: {what} is required")
    return value
