"""HuggingFace transformers at its best: static KV cache, compiled decode step, own loop.

`generate()` spends most of a decode step in Python on a 6 B model, so "HF"
alone understates what transformers can do. This backend keeps the model as
`hf` loads it but decodes with a StaticCache in its own greedy loop and, on
CUDA, a decode step compiled with torch.compile(mode="reduce-overhead"): CUDA
graphs replay the whole step without Python.

The loop never waits for the GPU: positions live on the device, each step's
token stays there as the next step's input, and tokens are stamped with CUDA
events (the moment the GPU finished the step), read once at the end. On the CPU
the loop is synchronous and stamps with the host clock.
"""

from __future__ import annotations

import inspect
import os
import threading
from dataclasses import dataclass

from ..clock import now
from ..record import placement
from .base import Generation, option
from .hf import HFBackend, prompt_length


@dataclass(frozen=True)
class Options:
    """Settings of `backend_options.hf-compile`."""

    max_cache_len: int = option(
        2048,
        "static KV cache length: prompt + output must fit",
        {"type": "integer", "minimum": 1},
        caps_tokens=True,
    )
    compile: bool | str = option(
        "auto", "compile the decode step: auto = on CUDA only, or true/false", {"enum": ["auto", True, False]}
    )


class _Stamps:
    """Times at which each step's result existed, without stopping the host for it."""

    def __init__(self, torch, cuda: bool):
        self.torch, self.cuda, self.events, self.host = torch, cuda, [], []
        if cuda:  # an anchor the host waits for once: device time 0 = this host moment
            self.anchor = torch.cuda.Event(enable_timing=True)
            self.anchor.record()
            self.anchor.synchronize()
            self.origin = now()

    def mark(self) -> None:
        if self.cuda:
            event = self.torch.cuda.Event(enable_timing=True)
            event.record()
            self.events.append(event)
        else:
            self.host.append(now())

    def times(self) -> list[float]:
        """Call after the results were synchronized."""
        if not self.cuda:
            return self.host
        return [self.origin + self.anchor.elapsed_time(e) / 1000.0 for e in self.events]


class HFCompileBackend(HFBackend):
    """transformers with a StaticCache and its own greedy loop; on cuda by default, a compiled decode
    step."""

    concurrency_means = {"concurrent": "one_at_a_time", "batch": "compiled_step"}

    Options = Options
    improves_on = "hf"  # transformers at its best

    def import_libraries(self) -> None:
        """Keeps inductor's compile caches in `<cache_dir>/inductor` when cache_dir is set (settings
        already in the environment win), then imports as `hf`."""
        # Compiled graphs are cached on disk and shared by every run of the workflow.
        if self.settings.cache_dir:
            os.environ.setdefault(
                "TORCHINDUCTOR_CACHE_DIR", os.path.join(self.settings.cache_dir, "inductor")
            )
            os.environ.setdefault("TORCHINDUCTOR_FX_GRAPH_CACHE", "1")
            os.environ.setdefault("TORCHINDUCTOR_AUTOGRAD_CACHE", "1")
        super().import_libraries()

    def load(self) -> None:
        """Loads as `hf`, then prepares the EOS mask and the decode step (compiled when `compile`
        resolves to true)."""
        super().load()
        torch, options = self._torch, self.options
        self.max_cache_len = options.max_cache_len
        self.compiled = self.settings.device == "cuda" if options.compile == "auto" else bool(options.compile)
        self._eos = torch.tensor(self.eos_ids, dtype=torch.long, device=self.settings.device)
        self._caches: dict[int, object] = {}
        # transformers renamed past_key_values to cache (5.2x); use whichever forward() takes.
        self._cache_kwarg = (
            "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"
        )
        # One static cache per batch size: concurrent requests take turns.
        self._lock = threading.Lock()
        self._decode = (
            torch.compile(self._decode_step, mode="reduce-overhead", fullgraph=True)
            if self.compiled
            else self._decode_step
        )

    def _next_tokens(self, logits):
        logits = logits[:, -1, :].float()
        if len(self._eos):
            logits[:, self._eos] = float("-inf")  # exact lengths: EOS masked, as min_new_tokens does
        return logits.argmax(dim=-1, keepdim=True)

    def _decode_step(self, tokens, cache_position, cache):
        logits = self.model(
            input_ids=tokens, cache_position=cache_position, use_cache=True, **{self._cache_kwarg: cache}
        ).logits
        return self._next_tokens(logits)

    def _cache(self, batch: int):
        if batch not in self._caches:
            self._caches[batch] = self._transformers.StaticCache(
                config=self.model.config, max_cache_len=self.max_cache_len
            )
        return self._caches[batch]

    def _run(self, prompts: list[list[int]], output_tokens: int, stamps: bool):
        length = prompt_length(prompts)
        if length + output_tokens > self.max_cache_len:
            raise ValueError(
                f"prompt + output = {length + output_tokens} tokens exceeds max_cache_len {self.max_cache_len} "
                "(backend_options.hf-compile.max_cache_len)"
            )
        torch, device = self._torch, self.settings.device
        with self._lock, torch.inference_mode():
            start = now()
            clock = _Stamps(torch, device == "cuda") if stamps else None
            cache = self._cache(len(prompts))
            cache.reset()
            inputs = torch.tensor(prompts, device=device)
            positions = torch.arange(length + output_tokens, device=device)
            logits = self.model(
                input_ids=inputs,
                cache_position=positions[:length],
                use_cache=True,
                **{self._cache_kwarg: cache},
            ).logits
            token = self._next_tokens(logits)
            steps = [token]
            if clock:
                clock.mark()
            for position in range(length, length + output_tokens - 1):
                if self.compiled:
                    torch.compiler.cudagraph_mark_step_begin()
                # CUDA graphs reuse their output buffer: keep a copy of each step's tokens.
                token = self._decode(token, positions[position : position + 1], cache).clone()
                steps.append(token)
                if clock:
                    clock.mark()
            ids = torch.cat(steps, dim=1).tolist()  # the one wait for the device
            times = clock.times() if clock else []
            end = now()
        return ids, start, times, end

    def generate_batch(self, prompts: list[list[int]], output_tokens: int) -> list[Generation]:
        """True batching in the own loop, one static cache per batch size, one batch at a time; raises
        ValueError for prompts of unequal length or prompt + output tokens over max_cache_len."""
        ids, start, times, end = self._run(prompts, output_tokens, stamps=True)
        return [Generation(row, start, times, end) for row in ids]

    def bare_generate(self, prompt_ids: list[int], output_tokens: int) -> list[int]:
        """The same loop without stamps."""
        return self._run([prompt_ids], output_tokens, stamps=False)[0][0]

    def describe(self) -> dict:
        """Adds whether the decode step was compiled, max_cache_len and the token clock (CUDA events
        or host)."""
        token_clock = "CUDA events (step done on the GPU)" if self.settings.device == "cuda" else "host"
        return {
            **super().describe(),
            "compiled": self.compiled,
            "max_cache_len": self.max_cache_len,
            "token_clock": token_clock,
            # device times of tokens the caller receives only when generate returns: labelled in the report
            placement.DEVICE_CLOCK_KEY: self.settings.device == "cuda",
        }


BACKEND = HFCompileBackend
