"""Any OpenAI-compatible server: started from a command template, or one the user runs at a URL.

`command: ["vllm", "serve", "{model}", "--port", "{port}"]` starts a server on a
free port (`{model}` is the model folder, `{port}` is required); or `base_url:
http://host:8000/v1` with `model_name` targets a running one. The API key is
read from the environment variable named by `api_key_env`, never written to the
config, params, logs or report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..measure.server import fill_template
from ._served import ServedBackend, ServedOptions, require
from .base import BackendUnavailable, option

KEY = "backend_options.openai-server"


@dataclass(frozen=True)
class Options(ServedOptions):
    """Settings of `backend_options.openai-server`."""

    command: list[str] | None = option(
        None,
        "server command template with {port} (and {model}); null: use base_url",
        {"type": ["array", "null"], "items": {"type": "string"}, "minItems": 1},
    )
    base_url: str | None = option(
        None,
        "URL of a server the user runs, ending in /v1",
        {"type": ["string", "null"], "pattern": "^https?://"},
    )
    model_name: str = option("llmbench", "the `model` field sent with each request", {"type": "string"})
    api_key_env: str | None = option(
        None,
        "environment variable holding the API key (the key itself never appears in the config)",
        {"type": ["string", "null"]},
    )

    def problems(self, key: str) -> list[str]:
        """What makes these settings unusable, each naming its key (checked with the config, before any run)."""
        if self.command is None and not self.base_url:
            return [f"{key}: set command (a template with {{port}}) or base_url"]
        if self.command is not None and not any("{port}" in part for part in self.command):
            return [f"{key}.command: the command template has no {{port}}: {' '.join(self.command)}"]
        return []


class OpenAIServerBackend(ServedBackend):
    """A generic OpenAI-compatible server."""

    Options = Options
    key = KEY
    runs_weight_formats = False  # the user's server loads the model folder as it is

    def command(self, port: int) -> list[str] | None:
        """The command template filled in; None with base_url. Raises BackendUnavailable when neither is set,
        ValueError naming the key for a template without {port}."""
        if self.options.command is None:
            require(self.options.base_url, KEY, "command or base_url")
            return None
        return fill_template(
            self.options.command, f"{KEY}.command", port=str(port), model=self.settings.model_dir
        )

    def base_url(self, port: int | None) -> str:
        """base_url when set, else the started server's."""
        return self.options.base_url.rstrip("/") if self.options.base_url else super().base_url(port)

    def api_key(self) -> str | None:
        """The key from the variable named by api_key_env; BackendUnavailable naming it when unset."""
        name = self.options.api_key_env
        if name is None:
            return None
        if not os.environ.get(name):
            raise BackendUnavailable(f"{KEY}.api_key_env: environment variable {name} is not set")
        return os.environ[name]

    def model_name(self) -> str:
        """model_name from the options."""
        return self.options.model_name


BACKEND = OpenAIServerBackend
