"""HuggingFace transformers running the checkpoint's own modelling code
(`trust_remote_code`), as the article ran ChatGLM2 (`model.chat`).

Off unless the config says `backend_options: {hf-remote: {trust_remote_code:
true}}`: it executes Python shipped with the checkpoint. ChatGLM2's code needs
transformers 4.x, hence its own environment (envs/hf-remote.yaml); on the
project's transformers 5 it fails to load (see the README). The `hf` backend
runs the same weights without remote code, through the native GLM port.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import BackendUnavailable, option
from .hf import HFBackend


@dataclass(frozen=True)
class Options:
    """Settings of `backend_options.hf-remote`."""

    trust_remote_code: bool = option(
        False, "run the checkpoint's own Python code (must be true to run)", {"type": "boolean"}
    )


class HFRemoteBackend(HFBackend):
    """`hf` on the checkpoint as acquired, with its own modelling code; load() raises
    BackendUnavailable unless trust_remote_code is true."""

    Options = Options
    artifact_kind = "source"  # the checkpoint as acquired, with its Python files
    required_options = {"trust_remote_code": True}

    def _from_pretrained(self, dtype):
        if self.options.trust_remote_code is not True:
            raise BackendUnavailable(
                "hf-remote runs only with backend_options.hf-remote.trust_remote_code: true"
            )
        # torch_dtype: the keyword of the transformers 4.x that ChatGLM2's code needs.
        return self._transformers.AutoModelForCausalLM.from_pretrained(
            self.settings.artifact, torch_dtype=dtype, trust_remote_code=True
        )

    def describe(self) -> dict:
        """Adds trust_remote_code: true."""
        return {**super().describe(), "trust_remote_code": True}


BACKEND = HFRemoteBackend
