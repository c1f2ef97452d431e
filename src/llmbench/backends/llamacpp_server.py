"""llama.cpp served: llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`) on the GGUF.

Its completions take text, not ids: `prompt` is a string (or a list of one) in
llama-cpp-python 0.3.36's server (server/types.py, server/app.py), and no endpoint
takes ids. So the prompt ids are written as text in the GGUF's own vocabulary and
the server tokenizes them again: llmbench's GGUF export gives every id a dummy piece
of one character of its own (models.gguf_export.plans.dummy_piece) and no space
prefix, so llama.cpp's SentencePiece tokenizer reads such a text back to exactly
those ids, and the text served back maps to exactly the ids generated (one piece per
token). This codec is read from the GGUF the server loads, not from the model's
tokenizer (whose text the dummy vocabulary cannot tokenize: llama.cpp aborted with
`unordered_map::at` on the tiny model, 2026-12-04).

The server runs one request at a time (one Llama behind a lock, no batching): requests
in flight beyond the first wait in its queue, which open-loop TTFTs show. It streams no
`usage`: tokens are counted as its events, one per token.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from ._served import ServedBackend, ServedOptions
from .base import BackendUnavailable, option


@dataclass(frozen=True)
class Options(ServedOptions):
    """Settings of `backend_options.llamacpp-server`."""

    n_ctx: int = option(2048, "the server's context length", {"type": "integer", "minimum": 1})


class GGUFVocabulary:
    """A GGUF's vocabulary as a Codec: each id its piece (a byte piece `<0xNN>` its byte, as llama.cpp
    detokenizes it); text back to ids piece by piece, longest piece first. Exact for llmbench's exports, whose
    pieces are one character each (and `<unk>`, `<s>`, `</s>`)."""

    def __init__(self, pieces: list[str]):
        self.pieces = [_piece_text(p) for p in pieces]
        self.ids = {p: i for i, p in reversed(list(enumerate(self.pieces)))}
        self.longest = max(map(len, self.pieces))

    @classmethod
    def read(cls, path: str) -> GGUFVocabulary:
        """The vocabulary of the GGUF at `path` (tokenizer.ggml.tokens)."""
        import gguf

        field = gguf.GGUFReader(path).fields["tokenizer.ggml.tokens"]
        return cls([bytes(field.parts[i]).decode("utf-8") for i in field.data])

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
                raise ValueError(
                    f"no piece of the GGUF's vocabulary begins with {text[at]!r} (position {at})"
                )
        return ids


def _piece_text(piece: str) -> str:
    """The text llama.cpp makes of a piece: a byte piece's byte, SentencePiece's ▁ a space."""
    if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
        return chr(int(piece[3:5], 16))
    return piece.replace("\u2581", " ")


class LlamaCppServerBackend(ServedBackend):
    """llama-cpp-python's server, one model, on this host."""

    Options = Options
    engine = "llamacpp"
    artifact_kind = "llamacpp"
    key = "backend_options.llamacpp-server"
    packages = ("llama-cpp-python", "fastapi", "uvicorn")
    output_ids_from = (
        "the text served back, mapped through the GGUF's vocabulary (one piece per token; a control token"
        " has no text and is missing)"
    )

    token_counting = "one per streamed event (the server streams one event per token and no usage)"

    def chunk_tokens(self, streamed) -> tuple[list[int], int | None]:
        """One token per streamed event: llama-cpp-python's completion stream yields an event per token
        (llama.py, `_create_completion`), a control token's with empty text, which the text cannot show (its
        output ids then lack it; the count does not). It streams no usage: the count is the events'."""
        counts = [1] * len(streamed.chunks)
        return counts, len(counts)

    def text_codec(self) -> GGUFVocabulary:
        """The GGUF's own vocabulary (see the module's docstring); BackendUnavailable when it has none."""
        try:
            return GGUFVocabulary.read(self.settings.artifact)
        except (KeyError, OSError, ValueError) as error:
            raise BackendUnavailable(
                f"{self.key}: cannot read the vocabulary of {self.settings.artifact}: {error}"
            ) from error

    def command(self, port: int) -> list[str]:
        """`python -m llama_cpp.server` on the GGUF, localhost only, the run's threads and GPU layers."""
        s = self.settings
        return [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            s.artifact,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(self.options.n_ctx),
            "--n_threads",
            str(s.cpu_threads),
            "--n_gpu_layers",
            "-1" if s.device == "cuda" else "0",
            # Its default ends the request streaming when another arrives (the server's settings.py): under
            # load every overlapping request would be cut short. Requests queue for its one model instead.
            "--interrupt_requests",
            "False",
        ]


BACKEND = LlamaCppServerBackend
