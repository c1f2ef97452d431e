"""FastLLM through its Python package `ftllm`, driven by token ids.

The raw C API is used instead of `model.response()` because it is the only path
that takes a minimum length (exact output lengths, EOS ignored) and hands out
tokens one by one (TTFT and inter-token latency).
"""

from __future__ import annotations

import ctypes
import os
import time

from .base import Backend, BackendUnavailable, Generation, now

# ftllm's blocking fetch busy-waits and slowed generation 2.5-4x on two cores;
# polling with a short sleep leaves the cores to the model.
_POLL_S = 0.0005


class FastLLMBackend(Backend):
    artifact_kind = "fastllm"
    packages = ("ftllm",)

    def import_libraries(self) -> None:
        try:
            from ftllm import llm
        except ImportError as error:
            raise BackendUnavailable(f"ftllm is not importable: {error}") from error
        self._llm = llm

    def load(self) -> None:
        llm = self._llm
        self.library = os.path.basename(llm.fastllm_lib._name)
        s = self.settings
        # ftllm silently falls back to its CPU library when CUDA libraries are
        # missing: never report CPU numbers as GPU numbers.
        if s.device == "cuda" and (self.library.endswith("-cpu.so") or not llm.has_device("cuda")):
            raise BackendUnavailable(
                f"device cuda asked for, but ftllm loaded {self.library} (its CPU library)"
            )
        threads = s.options.get("cpu_threads")
        if threads:
            llm.set_cpu_threads(int(threads))
        llm.set_device_map(s.device)
        self.model = llm.model(s.artifact)
        self._lib = llm.fastllm_lib
        self._handle = self.model.model

    def generate(self, prompt_ids: list[int], output_tokens: int) -> Generation:
        lib, model = self._lib, self._handle
        ids = (ctypes.c_int * len(prompt_ids))(*prompt_ids)
        start = now()
        handle = lib.launch_response_llm_model(
            model,
            len(prompt_ids),
            ids,
            output_tokens,
            output_tokens,  # max_len, min_len: exactly this many, EOS masked
            False,
            1.0,
            1,
            1.0,
            1.0,  # greedy: do_sample, top_p, top_k, temperature, repeat_penalty
            False,
            0,
            None,  # output_logits, stop ids
        )
        output, times = [], []
        while True:
            if not lib.can_fetch_response_llm_model(model, handle):
                time.sleep(_POLL_S)
                continue
            token = lib.fetch_response_llm_model(model, handle)
            if token < 0:
                break
            times.append(now())
            output.append(token)
        return Generation(output, start, times, now())

    def describe(self) -> dict:
        return {
            "library": self.library,
            "cpu_threads": self._llm.get_cpu_threads(),
            "model_type": self.model.get_type(),
            # Tokens are stamped when a poll finds them: per-token times are this coarse.
            "token_clock_resolution_ms": _POLL_S * 1000,
        }


BACKEND = FastLLMBackend
