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

from ._llamacpp_engine import GGML_TYPE, KV_OF_DTYPE
from ._served import PieceVocabulary, ServedBackend, ServedOptions
from .base import BackendUnavailable, option


@dataclass(frozen=True)
class Options(ServedOptions):
    """Settings of `backend_options.llamacpp-server`."""

    n_ctx: int = option(
        2048, "the server's context length", {"type": "integer", "minimum": 1}, caps_tokens=True
    )


class GGUFVocabulary(PieceVocabulary):
    """A GGUF's vocabulary as a Codec (see PieceVocabulary: a byte piece `<0xNN>` is its byte, SentencePiece's
    ▁ a space, as llama.cpp detokenizes them)."""

    def __init__(self, pieces: list[str]):
        super().__init__([_piece_text(p) for p in pieces])

    @classmethod
    def read(cls, path: str) -> GGUFVocabulary:
        """The vocabulary of the GGUF at `path` (tokenizer.ggml.tokens)."""
        import gguf

        field = gguf.GGUFReader(path).fields["tokenizer.ggml.tokens"]
        return cls([bytes(field.parts[i]).decode("utf-8") for i in field.data])


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
    # Its requests default to repeat_penalty 1.1 (server/types.py): unasked, greedy outputs turned away from
    # every token already generated and parted from the in-process engine's after ~12 tokens (tiny model).
    neutral_decoding = {"repeat_penalty": 1.0}

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

    def kv_ggml_type(self) -> int:
        """ggml's type id of the KV cache the in-process engine keeps for the run dtype."""
        return GGML_TYPE[KV_OF_DTYPE[self.settings.dtype]]

    def server_facts(self) -> dict:
        """The threads and KV cache type the server was started with (those of the in-process engine)."""
        return {"cpu_threads": self.settings.cpu_threads, "kv_type": KV_OF_DTYPE[self.settings.dtype]}

    def command(self, port: int) -> list[str]:
        """`python -m llama_cpp.server` on the GGUF, localhost only, the in-process engine's threads, KV cache
        type and GPU layers."""
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
            # The in-process engine's settings (llamacpp.py, _llamacpp_engine.py), not the server's defaults:
            # prefill on every core, an f16 KV cache whatever the dtype, logits for every prompt token.
            "--n_threads_batch",
            str(s.cpu_threads),
            "--type_k",
            str(self.kv_ggml_type()),
            "--type_v",
            str(self.kv_ggml_type()),
            "--logits_all",
            "False",
            "--n_gpu_layers",
            "-1" if s.device == "cuda" else "0",
            # Its default ends the request streaming when another arrives (the server's settings.py): under
            # load every overlapping request would be cut short. Requests queue for its one model instead.
            "--interrupt_requests",
            "False",
        ]


BACKEND = LlamaCppServerBackend
