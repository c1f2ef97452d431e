"""TPOT and ITL as each serving benchmark defines them, all from llmbench's one timing log.

A request's log is its TTFT and the gap before every later output token (ms,
from submission). Tokens that arrived in one streamed chunk share their chunk's
stamp, so their gaps are exactly 0: the log keeps which tokens came together.
From it, what each tool would print for the same request:

- llmbench, inference-perf: ITL is every token's gap (0 inside a chunk);
  TPOT = (last token - first token) / (tokens - 1);
- vLLM (`vllm bench serve`): ITL is one gap per chunk after the first (tokens
  inside a chunk add no gap); TPOT as llmbench's;
- SGLang (`bench_serving`): a chunk's gap split evenly over its tokens, one ITL per token;
  TPOT as llmbench's;
- guidellm / AIPerf: their "ITL" is (last - first) / (tokens - 1), which is
  vLLM's TPOT; their "TPOT" is e2e / tokens, TTFT included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..record import Request


@dataclass(frozen=True)
class Chunk:
    """Tokens received together: `gap_ms` after the previous chunk (TTFT for the first), `tokens` in it."""

    gap_ms: float
    tokens: int


def chunks(request: Request) -> list[Chunk]:
    """The request's streamed chunks, rebuilt from its token gaps (a gap of exactly 0 joins the chunk before).
    Empty when the request has no TTFT (no per-token stamps)."""
    if request.ttft_ms is None or not request.output_tokens:
        return []
    out = [Chunk(request.ttft_ms, 1)]
    for gap in request.itl_ms:
        if gap == 0.0:
            out[-1] = Chunk(out[-1].gap_ms, out[-1].tokens + 1)
        else:
            out.append(Chunk(gap, 1))
    return out


def _decode_ms(request: Request) -> float:
    return sum(request.itl_ms)


def tpot_ms(request: Request) -> float | None:
    """(last token - first token) / (tokens - 1), ms: llmbench's, vLLM's, SGLang's and inference-perf's TPOT,
    guidellm's ITL. None for a request of one token or without stamps."""
    n = request.output_tokens
    return _decode_ms(request) / (n - 1) if request.ttft_ms is not None and n > 1 else None


def vllm_itl_ms(request: Request) -> list[float]:
    """One gap per chunk after the first, ms (vLLM)."""
    return [c.gap_ms for c in chunks(request)[1:]]


def sglang_itl_ms(request: Request) -> list[float]:
    """Each chunk's gap split evenly over its tokens, one value per token after the first chunk, ms (SGLang)."""
    return [c.gap_ms / c.tokens for c in chunks(request)[1:] for _ in range(c.tokens)]


def token_itl_ms(request: Request) -> list[float]:
    """Every token's gap, 0 inside a chunk, ms (llmbench, inference-perf)."""
    return list(request.itl_ms) if request.ttft_ms is not None else []


def guidellm_tpot_ms(request: Request) -> float | None:
    """e2e / tokens, TTFT included, ms (guidellm's and AIPerf's TPOT)."""
    n = request.output_tokens
    return request.e2e_ms / n if n else None


def _one(value: Callable[[Request], float | None]) -> Callable[[Request], list[float]]:
    def samples(request: Request) -> list[float]:
        v = value(request)
        return [] if v is None else [v]

    return samples


@dataclass(frozen=True)
class Convention:
    """How one tool reads TPOT and ITL: per request, the samples it pools for each (ms)."""

    tool: str
    tpot: Callable[[Request], list[float]]
    itl: Callable[[Request], list[float]]


# fmt: off
CONVENTIONS: dict[str, Convention] = {c.tool: c for c in [
    Convention("llmbench", _one(tpot_ms), token_itl_ms),
    Convention("vllm", _one(tpot_ms), vllm_itl_ms),
    Convention("sglang", _one(tpot_ms), sglang_itl_ms),
    Convention("inference-perf", _one(tpot_ms), token_itl_ms),
    Convention("guidellm", _one(guidellm_tpot_ms), _one(tpot_ms)),
]}
# fmt: on


def convention_samples(requests: Iterable[Request]) -> dict[str, dict[str, list[float]]]:
    """tool -> {"tpot_ms": pooled samples, "itl_ms": pooled samples} over `requests`."""
    requests = list(requests)
    return {
        tool: {
            "tpot_ms": [v for r in requests for v in c.tpot(r)],
            "itl_ms": [v for r in requests for v in c.itl(r)],
        }
        for tool, c in CONVENTIONS.items()
    }
