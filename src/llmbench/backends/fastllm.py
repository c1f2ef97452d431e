"""FastLLM through its Python package `ftllm`, driven by token ids.

The raw C API is used instead of `model.response()` because it is the only path
that takes a minimum length (exact output lengths, EOS masked) and hands out
tokens one by one (TTFT and inter-token latency). Greedy, repeat penalty 1.0:
the same neutral decoding as every backend.

Tokens are stamped when a round of polls finds them (all that a round finds with one
stamp; each handle's tokens taken by one bulk fetch), so per-token times are as coarse
as the poll: the interval actually achieved is measured per run (a 0.5 ms sleep lasts
0.55-0.6 ms), on one sleep in SLEEP_TIMED_EVERY, and reported as the token clock's resolution.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from dataclasses import dataclass

from ..clock import now
from .base import Backend, BackendUnavailable, Generation, option

# ftllm's blocking fetch busy-waits and slowed generation 2.5-4x on two cores;
# polling with a short sleep leaves the cores to the model.
POLL_SLEEP_S = 0.0005
# Tokens taken by one bulk fetch at most (ftllm's own server drains 64 per call).
FETCH_CAPACITY = 256
# The achieved sleep is timed on every 16th of the backend's sleeps (counted across collects): two clock reads
# around every one were a third of what the harness's poll loop added to ftllm's own on two cores (issue #28).
SLEEP_TIMED_EVERY = 16


@dataclass(frozen=True)
class Options:
    """Settings of `backend_options.fastllm`."""

    cpu_threads: int | None = option(
        None, "ftllm's own CPU threads (null: ftllm's default)", {"type": ["integer", "null"], "minimum": 1}
    )


class FastLLMBackend(Backend):
    """FastLLM (ftllm) on the converted .flm file, its tokens fetched by polling."""

    Options = Options
    artifact_kind = "fastllm"
    packages = ("ftllm",)
    concurrency_means = {"concurrent": "engine_batches_decode", "batch": "engine_batches_one_poller"}

    def import_libraries(self) -> None:
        """Imports ftllm; raises BackendUnavailable when it is not importable."""
        try:
            from ftllm import llm
        except ImportError as error:
            raise BackendUnavailable(f"ftllm is not importable: {error}") from error
        self._llm = llm

    def load(self) -> None:
        """Loads the .flm with ftllm; raises BackendUnavailable when ftllm loaded its CPU library
        and cuda was asked."""
        llm = self._llm
        self.library = os.path.basename(llm.fastllm_lib._name)
        s = self.settings
        # ftllm silently falls back to its CPU library when CUDA libraries are
        # missing: never report CPU numbers as GPU numbers.
        if s.device == "cuda" and (self.library.endswith("-cpu.so") or not llm.has_device("cuda")):
            raise BackendUnavailable(
                f"device cuda asked for, but ftllm loaded {self.library} (its CPU library)"
            )
        if self.options.cpu_threads:
            llm.set_cpu_threads(self.options.cpu_threads)
        llm.set_device_map(s.device)
        self.model = llm.model(s.artifact)
        self._lib = llm.fastllm_lib
        self._handle = self.model.model
        self._sleeps, self._sleeps_timed, self._sleep_s = 0, 0, 0.0
        self._poll_lock = threading.Lock()

    def _launch(self, prompt_ids: list[int], output_tokens: int) -> int:
        ids = (ctypes.c_int * len(prompt_ids))(*prompt_ids)
        return self._lib.launch_response_llm_model(
            self._handle,
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

    def _collect(self, handles: list[int], stamp: bool) -> list[tuple[list[int], list[float], float]]:
        """Every token of each of `handles`, polled round robin by this one thread (as ftllm's own
        benchmark loop does): a poll that finds tokens takes all that are ready in one bulk fetch, so no
        Python runs per token, and a round stamps all it finds with the moment it first found one; a
        round in which none had a token sleeps POLL_SLEEP_S. Returns (ids, stamps, end) per handle;
        stamps are empty unless `stamp`. The loop is kept to what ftllm's own does plus the stamps: on two
        cores the poller's every bytecode is taken from the model's threads."""
        can_fetch = self._lib.can_fetch_response_llm_model
        fetch = self._lib.fetch_response_tokens_batch_llm_model
        model = self._handle
        outputs: list[list[int]] = [[] for _ in handles]
        times: list[list[float]] = [[] for _ in handles]
        ends = [0.0] * len(handles)
        live = list(range(len(handles)))
        started_at = sleeps = self._sleeps  # read without the lock: it only picks which sleeps are timed
        timed, slept = 0, 0.0
        buffer = (ctypes.c_int * FETCH_CAPACITY)()
        while live:
            progressed = False
            found = 0.0  # when this round first found tokens: every token it finds carries that stamp
            for i in list(live):
                if not can_fetch(model, handles[i]):
                    continue
                count = fetch(model, handles[i], buffer, FETCH_CAPACITY)
                if count > 0:
                    outputs[i] += buffer[:count]
                    if stamp:
                        # one clock read a round, not one a handle (the rounds' polls are microseconds apart)
                        found = found or now()
                        times[i] += [found] * count
                    progressed = True
                elif count < 0:  # ended: a round that saw an end polls again at once, as one with tokens
                    ends[i] = now()
                    live.remove(i)
                    progressed = True
            if live and not progressed:
                if sleeps % SLEEP_TIMED_EVERY:
                    time.sleep(POLL_SLEEP_S)
                else:
                    before = now()
                    time.sleep(POLL_SLEEP_S)
                    slept += now() - before
                    timed += 1
                sleeps += 1
        with self._poll_lock:
            self._sleeps += sleeps - started_at
            self._sleeps_timed += timed
            self._sleep_s += slept
        return list(zip(outputs, times, ends, strict=True))

    def generate(self, prompt_ids: list[int], output_tokens: int) -> Generation:
        """Launches through ftllm's C API and stamps each token when a poll finds it (polls sleep 0.5 ms)."""
        start = now()
        [(output, times, end)] = self._collect([self._launch(prompt_ids, output_tokens)], stamp=True)
        return Generation(output, start, times, end)

    def generate_batch(self, prompts: list[list[int]], output_tokens: int) -> list[Generation]:
        """Launches every prompt into ftllm's engine (which batches their decode steps), then polls them
        all from this one thread: one poller, not one thread per prompt, so that Python threads do not
        compete with ftllm's for the cores (on 2 cores four polling threads cost 12 %: issue #28)."""
        start = now()
        handles = [self._launch(prompt, output_tokens) for prompt in prompts]
        return [Generation(ids, start, times, end) for ids, times, end in self._collect(handles, stamp=True)]

    def bare_generate(self, prompt_ids: list[int], output_tokens: int) -> list[int]:
        """The same launch and polling, without stamps."""
        return self._collect([self._launch(prompt_ids, output_tokens)], stamp=False)[0][0]

    def describe(self) -> dict:
        """ftllm's library file, CPU threads, model type and batch limit, the decoding, and the token clock's
        resolution in ms (the mean poll sleep achieved, over the timed sleeps; None when no poll had to wait)."""
        achieved = self._sleep_s / self._sleeps_timed if self._sleeps_timed else None
        return {
            "library": self.library,
            "cpu_threads": self._llm.get_cpu_threads(),
            "model_type": self.model.get_type(),
            # the most requests its engine steps in one batch, after the run (-1: none set, ftllm decides)
            "max_batch": self.model.get_max_batch(),
            "decoding": "greedy, EOS masked (min_len = max_len), repeat_penalty 1.0",
            "poll_sleep_requested_ms": POLL_SLEEP_S * 1000,
            # Tokens are stamped when a poll finds them: per-token times are this coarse.
            "token_clock_resolution_ms": None if achieved is None else achieved * 1000,
        }


BACKEND = FastLLMBackend
