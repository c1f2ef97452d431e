"""A streaming client of OpenAI-compatible servers: SSE over httpx, a stamp per received chunk.

One `httpx.AsyncClient` runs on an event loop in a thread of its own, so many
requests can be in flight from one process while the calling threads (the
scenario's) block on their own request only. Each `data:` event that carries
output (text, or token ids where the server sends them) is stamped with
:func:`llmbench.clock.now` the moment its line is read; the usage the
server reports at the end (``stream_options: {include_usage: true}``) is kept,
since tokens are counted from it (or the tokenizer), never from the number of chunks.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field

try:  # only a served run needs it: validating a config (which imports every backend) must not
    import httpx2 as httpx  # the lent GPU image has no httpx2 (2026-12-06)
except ModuleNotFoundError:
    httpx = None

from ..clock import now


@dataclass
class Chunk:
    """One streamed event with output: when it was read (perf_counter s), its text, its ids if sent."""

    t: float
    text: str
    token_ids: list[int] | None = None


@dataclass
class Streamed:
    """One streamed response: when the request was sent and its last byte read (s), its chunks, the usage."""

    start: float
    end: float
    chunks: list[Chunk] = field(default_factory=list)
    usage: dict | None = None
    finish_reason: str | None = None

    @property
    def text(self) -> str:
        """The whole output text."""
        return "".join(c.text for c in self.chunks)


class StreamError(RuntimeError):
    """The server answered with an error status, broke the stream, or refused the connection."""


def _choice_output(event: dict) -> tuple[str, list[int] | None, str | None]:
    """(text, token ids or None, finish reason) of an SSE event's first choice (completions or chat)."""
    choices = event.get("choices") or []
    if not choices:
        return "", None, None
    choice = choices[0]
    text = choice.get("text")
    if text is None:
        text = (choice.get("delta") or {}).get("content") or ""
    ids = choice.get("token_ids")
    return text, ids if isinstance(ids, list) else None, choice.get("finish_reason")


def parse_event(line: str) -> dict | None:
    """The JSON of one SSE `data:` line; None for other lines, keep-alives and `[DONE]`.
    Raises StreamError for an error event."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if not data or data == "[DONE]":
        return None
    event = json.loads(data)
    if "error" in event and "choices" not in event:
        raise StreamError(f"server error in stream: {event['error']}")
    return event


class StreamClient:
    """Streams requests to `base_url` (e.g. ``http://127.0.0.1:8000/v1``) from any thread.

    `api_key`, if given, is sent as a bearer token and stored nowhere else. Raises
    ModuleNotFoundError when httpx2 is not installed (only served runs need it)."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout_s: float = 600.0):
        if httpx is None:
            raise ModuleNotFoundError(
                "served backends need httpx2 (pyproject.toml pins it; pip install httpx2==2.17.0)",
                name="httpx2",
            )
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="stream-client", daemon=True)
        self._thread.start()
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
        self._client = self._call(self._make(headers, timeout_s, limits))

    async def _make(self, headers, timeout_s, limits) -> httpx.AsyncClient:
        return httpx.AsyncClient(headers=headers, timeout=timeout_s, limits=limits)

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def stream(self, endpoint: str, payload: dict) -> Streamed:
        """POST `payload` with ``stream: true`` to `endpoint` (``/completions`` or ``/chat/completions``) and
        read the whole stream; blocks the calling thread. Raises StreamError on a refused connection, an
        error status or an error event."""
        return self._call(self._stream(endpoint, payload))

    async def _stream(self, endpoint: str, payload: dict) -> Streamed:
        body = {**payload, "stream": True, "stream_options": {"include_usage": True}}
        result = Streamed(start=now(), end=0.0)
        try:
            async with self._client.stream("POST", self.base_url + endpoint, json=body) as response:
                if response.status_code != 200:
                    text = (await response.aread()).decode(errors="replace")[:500]
                    raise StreamError(f"{self.base_url + endpoint} answered {response.status_code}: {text}")
                async for line in response.aiter_lines():
                    self._read(line, result)
        except httpx.HTTPError as error:
            raise StreamError(f"{self.base_url + endpoint}: {type(error).__name__}: {error}") from error
        result.end = now()
        return result

    @staticmethod
    def _read(line: str, result: Streamed) -> None:
        t = now()
        event = parse_event(line)
        if event is None:
            return
        text, ids, finish = _choice_output(event)
        # An event of a choice that does not finish it is a chunk, even without text: a server streaming one
        # event per token sends a token with no text (a control token) that way.
        if text or ids or (event.get("choices") and not finish):
            result.chunks.append(Chunk(t, text, ids))
        if finish:
            result.finish_reason = finish
        if event.get("usage"):
            result.usage = event["usage"]

    def get_json(self, path: str) -> dict:
        """GET `base_url + path` as JSON (e.g. ``/models``); raises StreamError when it fails."""
        return self._call(self._get(path))

    async def _get(self, path: str) -> dict:
        try:
            response = await self._client.get(self.base_url + path)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise StreamError(f"{self.base_url + path}: {type(error).__name__}: {error}") from error

    def close(self) -> None:
        """Closes the connections and stops the loop's thread."""
        self._call(self._client.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
