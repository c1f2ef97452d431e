"""FastLLM served: `ftllm serve` (FastAPI + uvicorn) on the converted model.

ftllm 1.9.0's server has chat completions only (`/v1/chat/completions`, with
`min_tokens`): the prompt ids are decoded to text and sent as one user message,
so the server applies the model's chat template (the prompt it sees is longer than
the ids: usage.prompt_tokens says by how much). It serves the folder
`prepare_fastllm` writes: on the converted .flm the 1.9.0 CPU server died with
SIGSEGV at the first chat request (tiny model, 2026-12-04); on the folder it answered
with exactly `min_tokens` tokens.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from ._served import ServedBackend, ServedOptions
from .base import option


@dataclass(frozen=True)
class Options(ServedOptions):
    """Settings of `backend_options.fastllm-server`."""

    cpu_threads: int | None = option(
        None,
        "the server's CPU threads (`ftllm serve -t`; null: ftllm's default)",
        {"type": ["integer", "null"], "minimum": 1},
    )
    endpoint: str = option(
        "/chat/completions",
        "the OpenAI endpoint driven (ftllm serves chat only)",
        {"enum": ["/chat/completions"]},
    )


class FastLLMServerBackend(ServedBackend):
    """ftllm's OpenAI-compatible server on this host."""

    Options = Options
    engine = "fastllm"
    artifact_kind = "fastllm-input"
    key = "backend_options.fastllm-server"
    packages = ("ftllm", "fastapi", "uvicorn")

    def command(self, port: int) -> list[str]:
        """`ftllm serve` on the converted model, localhost only."""
        ftllm = str(Path(sys.executable).with_name("ftllm"))
        threads = ["-t", str(self.options.cpu_threads)] if self.options.cpu_threads else []
        return [
            ftllm,
            "serve",
            self.settings.artifact,
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
