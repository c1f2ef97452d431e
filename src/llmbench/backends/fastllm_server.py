"""FastLLM served: `ftllm serve` (FastAPI + uvicorn) on the converted model.

ftllm 1.9.0's server has chat completions only (`/v1/chat/completions`, with
`min_tokens`; no endpoint takes ids): it applies the tokenizer's chat template to the
messages and tokenizes the text with transformers. Given the model folder as it is,
the prompt ids decoded to text came back wrapped in the template a second time and
re-tokenized by a byte-level BPE, so the server computed on a prompt llmbench never
sent (32 random ids became 58 prompt tokens on the tiny model) and its outputs were
judged against a reference on other ids: "computes wrongly", falsely.

So the server loads a copy of that folder (`served_folder`: the weights and configs
linked, the tokenizer replaced) whose tokenizer gives every id a one-character piece of
its own (models.gguf_export.plans.dummy_piece, as llmbench's GGUFs do; `<unk>`, `<s>`,
`</s>` stay special tokens) and whose chat template passes the user message through
unchanged: the text of the prompt ids is tokenized back to exactly those ids, and the
text served back maps to exactly the ids generated. Every request is checked: the
server's usage.prompt_tokens must equal the ids sent (else the request fails, naming
both). It serves the folder, not the converted .flm: on the .flm the 1.9.0 CPU server
died with SIGSEGV at the first chat request (tiny model, 2026-12-04).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..models.gguf_export.plans import dummy_piece
from ._served import PieceVocabulary, ServedBackend, ServedOptions
from .base import BackendUnavailable, option

# The chat template of the served folder: the user message as it is, nothing around it.
PASS_THROUGH_TEMPLATE = "{% for message in messages %}{{ message['content'] }}{% endfor %}"
# The special tokens of llmbench's models, by their config.json keys (kept as tokens, not pieces).
SPECIAL_TOKENS = {"pad_token_id": "<unk>", "bos_token_id": "<s>", "eos_token_id": "</s>"}


@dataclass(frozen=True)
class Options(ServedOptions):
    """Settings of `backend_options.fastllm-server`."""

    cpu_threads: int | None = option(
        None,
        "the server's CPU threads (`ftllm serve -t`, always passed; null: what ftllm serve picks itself)",
        {"type": ["integer", "null"], "minimum": 1},
    )
    endpoint: str = option(
        "/chat/completions",
        "the OpenAI endpoint driven (ftllm serves chat only)",
        {"enum": ["/chat/completions"]},
    )


def served_pieces(config: dict) -> list[str]:
    """The piece of every id of a model with `config` (config.json): its dummy piece, or `<unk>`, `<s>`,
    `</s>` at the pad (SentencePiece's unk), BOS and EOS ids."""
    pieces = [dummy_piece(i) for i in range(config["vocab_size"])]
    for key, text in SPECIAL_TOKENS.items():
        token_id = config.get(key)
        if isinstance(token_id, int) and 0 <= token_id < len(pieces):
            pieces[token_id] = text
    return pieces


def served_folder(source: Path, target: Path) -> PieceVocabulary:
    """Writes into `target` the folder `ftllm serve` loads: every file of `source` linked but the tokenizer's,
    a tokenizer.json of one-character pieces (served_pieces; BPE without merges, nothing added to a text) and a
    tokenizer_config.json whose chat template passes the message through. Returns that vocabulary."""
    from tokenizers import AddedToken, Tokenizer, decoders, models

    target.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if not path.name.startswith("tokenizer"):
            (target / path.name).symlink_to(path.resolve())
    pieces = served_pieces(json.loads((source / "config.json").read_text(encoding="utf-8")))
    special = [p for p in pieces if p in SPECIAL_TOKENS.values()]
    tokenizer = Tokenizer(models.BPE(vocab={p: i for i, p in enumerate(pieces)}, merges=[], unk_token=None))
    tokenizer.decoder = decoders.Fuse()
    tokenizer.add_special_tokens([AddedToken(p, special=True, normalized=False) for p in special])
    tokenizer.save(str(target / "tokenizer.json"))
    names = {"<unk>": "unk_token", "<s>": "bos_token", "</s>": "eos_token"}
    tokens = {names[p]: p for p in special}
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **tokens,
        "clean_up_tokenization_spaces": False,
        "chat_template": PASS_THROUGH_TEMPLATE,
    }
    (target / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n")
    return PieceVocabulary(pieces)


class FastLLMServerBackend(ServedBackend):
    """ftllm's OpenAI-compatible server on this host."""

    Options = Options
    engine = "fastllm"
    artifact_kind = "fastllm-input"
    key = "backend_options.fastllm-server"
    packages = ("ftllm", "fastapi", "uvicorn")
    output_ids_from = (
        "the text served back, mapped through the served folder's one-character vocabulary (one piece per"
        " token; a special token's text is dropped by ftllm's detokenizer and is missing)"
    )
    exact_prompt = True
    # ftllm passes a request's frequency_penalty on as its repeat_penalty, and without one takes the checkpoint's
    # generation_config repetition_penalty (openai_server/fastllm_completion.py): 1.0 is no penalty.
    neutral_decoding = {"frequency_penalty": 1.0}
    prompt_sent_as = (
        "the ids as one-character pieces, a chat template that passes them through: the server tokenizes"
        " exactly the ids (its usage.prompt_tokens checked per request)"
    )

    def text_codec(self) -> PieceVocabulary:
        """Writes the served folder (served_folder) in a temporary folder and returns its vocabulary;
        BackendUnavailable naming the key when the model folder cannot be read."""
        self.folder = Path(tempfile.mkdtemp(prefix="fastllm-served-"))
        try:
            return served_folder(Path(self.settings.artifact), self.folder / "model")
        except (OSError, KeyError, ValueError) as error:
            raise BackendUnavailable(
                f"{self.key}: cannot write the served folder of {self.settings.artifact}: {error}"
            ) from error

    def close(self) -> None:
        """Stops the server, then removes the served folder."""
        super().close()
        if getattr(self, "folder", None):
            shutil.rmtree(self.folder, ignore_errors=True)

    def server_threads(self) -> int:
        """`cpu_threads`, else what `ftllm serve` picks without `-t` (1.9.0, util.py: the usable cores less two,
        1 to 32), passed explicitly so that the record says it."""
        return self.options.cpu_threads or max(1, min(32, len(os.sched_getaffinity(0)) - 2))

    def server_facts(self) -> dict:
        """The server's CPU threads (fastllm's describe() reports its own)."""
        return {"cpu_threads": self.server_threads()}

    def command(self, port: int) -> list[str]:
        """`ftllm serve` on the converted model, localhost only."""
        ftllm = str(Path(sys.executable).with_name("ftllm"))
        threads = ["-t", str(self.server_threads())]
        return [
            ftllm,
            "serve",
            str(self.folder / "model"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--model_name",
            self.model_name(),
            "--dtype",
            self.settings.dtype,
            "--device",
            self.settings.device,
            *threads,
        ]


BACKEND = FastLLMServerBackend
