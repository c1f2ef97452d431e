"""HuggingFace transformers at its best: static KV cache, compiled decode step, own loop.

`generate()` spends most of a decode step in Python on a 6 B model (the H100
probe: 64 ms a step in generate() against 18 ms in a plain loop), so "HF" alone
understates what transformers can do. This backend keeps the model and its
weights as `hf` loads them, but decodes with a StaticCache and, on CUDA, a
decode step compiled with torch.compile(mode="reduce-overhead") - CUDA graphs,
which replay the whole step without Python. On CPU the same loop runs eagerly
unless `backend_options.hf-compile.compile` is true.

Options: `max_cache_len` (default 2048: prompt + output must fit), `compile`
(`auto` = on CUDA only, true, false).
"""

from __future__ import annotations

import inspect
import threading

from .base import Generation, now
from .hf import HFBackend, prompt_length


class HFCompileBackend(HFBackend):
    def load(self) -> None:
        super().load()
        torch, options = self._torch, self.settings.options
        self.max_cache_len = int(options.get("max_cache_len", 2048))
        compile_option = options.get("compile", "auto")
        self.compiled = self.settings.device == "cuda" if compile_option == "auto" else bool(compile_option)
        eos = self.model.generation_config.eos_token_id
        eos = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
        self._eos = torch.tensor(eos, dtype=torch.long, device=self.settings.device)
        self._caches: dict[int, object] = {}
        # transformers renamed past_key_values to cache (5.2x); use whichever forward() takes.
        self._cache_kwarg = (
            "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"
        )
        # One static cache per batch size: concurrent requests of a size take turns.
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

    def generate_batch(self, prompts: list[list[int]], output_tokens: int) -> list[Generation]:
        length = prompt_length(prompts)
        if length + output_tokens > self.max_cache_len:
            raise ValueError(
                f"prompt + output = {length + output_tokens} tokens exceeds max_cache_len {self.max_cache_len} "
                "(backend_options.hf-compile.max_cache_len)"
            )
        torch = self._torch
        device = self.settings.device
        with self._lock, torch.inference_mode():
            cache = self._cache(len(prompts))
            cache.reset()
            start = now()
            inputs = torch.tensor(prompts, device=device)
            logits = self.model(
                input_ids=inputs,
                cache_position=torch.arange(length, device=device),
                use_cache=True,
                **{self._cache_kwarg: cache},
            ).logits
            token = self._next_tokens(logits)
            token.tolist()  # waits for the device: the first token exists on the host (TTFT)
            steps, times = [token], [now()]
            for position in range(length, length + output_tokens - 1):
                if self.compiled:
                    torch.compiler.cudagraph_mark_step_begin()
                # CUDA graphs reuse their output buffer: keep a copy of each step's tokens.
                token = self._decode(token, torch.tensor([position], device=device), cache).clone()
                token.tolist()
                times.append(now())
                steps.append(token)
            end = now()
        ids = torch.cat(steps, dim=1).tolist()
        return [Generation(row, start, times, end) for row in ids]

    def describe(self) -> dict:
        return {**super().describe(), "compiled": self.compiled, "max_cache_len": self.max_cache_len}


BACKEND = HFCompileBackend
