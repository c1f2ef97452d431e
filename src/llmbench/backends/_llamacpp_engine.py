"""llama.cpp's low-level API for the llamacpp backend: its log, a batch we own, and a
context holding several sequences that one thread steps through (see backends/llamacpp.py)."""

from __future__ import annotations

import collections
import ctypes
import heapq
import json
import math
import os
import threading
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any

from ..clock import now
from .base import Generation

# ggml_log_level in this llama.cpp: 0 none, 1 debug, 2 info, 3 warn, 4 error, 5 continuation.
# (llama_cpp/_logger.py still maps them as info=1 ... error=3: its set_verbose(False) would hide errors.)
_LOG_WARN, _LOG_CONT = 3, 5
GGML_TYPE = {"f32": 0, "f16": 1, "bf16": 30}
KV_OF_DTYPE = {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}
_FLASH = {"auto": -1, "off": 0, "on": 1}
LOAD_MODE = {"read": 0, "mmap": 1}  # LLAMA_LOAD_MODE_NONE, LLAMA_LOAD_MODE_MMAP

_log_lines: collections.deque[tuple[int, str]] = collections.deque(maxlen=2000)
_log_state = {"forward": False}
_log_callback = None  # the ctypes callback must outlive every call into llama.cpp


def install_log(lib) -> None:
    """llama.cpp's log goes to a buffer (describe() reads it); warnings and errors
    also to stderr, i.e. the run's log file. Without this, llama-cpp-python's own
    callback prints every info line of a load (hundreds) to stderr."""
    global _log_callback
    if _log_callback is not None:
        return

    @lib.llama_log_callback
    def callback(level, text, user_data):
        line = text.decode("utf-8", "replace") if text else ""
        _log_lines.append((level, line))
        forward = level >= _LOG_WARN if level != _LOG_CONT else _log_state["forward"]
        _log_state["forward"] = forward
        if forward:
            os.write(2, line.encode())

    _log_callback = callback
    lib.llama_log_set(callback, ctypes.c_void_p(0))


def log_find(prefix: str) -> str | None:
    """The last line of llama.cpp's buffered log containing `prefix`, stripped, or None."""
    for _, line in reversed(_log_lines):
        if prefix in line:
            return line.strip()
    return None


def log_all(part: str) -> list[str]:
    """Every line of llama.cpp's buffered log (the last 2,000) containing `part`, stripped, oldest first."""
    return [line.strip() for _, line in _log_lines if part in line]


def eos_ids(model_dir: str) -> list[int]:
    """The ids transformers masks for min_new_tokens: generation_config's eos_token_id, else config's."""
    for name in ("generation_config.json", "config.json"):
        path = Path(model_dir) / name
        if path.is_file():
            value = json.loads(path.read_text()).get("eos_token_id")
            if value is not None:
                return [value] if isinstance(value, int) else list(value)
    return []


@dataclass
class Request:
    """One request to the scheduler: `n` output tokens after `prompt`, and what it has produced;
    `done` is set when it finishes or fails."""

    prompt: list[int]
    n: int
    start: float
    output: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    end: float = 0.0
    slot: int = -1
    stamp: bool = True  # False: bare_generate's plain loop, no per-token stamps
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def generation(self) -> Generation:
        """The result as a Generation; raises the error the request failed with."""
        if self.error is not None:
            raise self.error
        return Generation(self.output, self.start, self.times, self.end)


class Batch:
    """A llama_batch over numpy arrays that we own, so that filling it is slice
    assignment instead of a Python loop over ctypes elements."""

    def __init__(self, lib, np, capacity: int):
        self.capacity = capacity
        self.token = np.zeros(capacity, np.int32)
        self.pos = np.zeros(capacity, np.int32)
        self.n_seq = np.ones(capacity, np.int32)
        self.seq = np.zeros(capacity, np.int32)
        self.logits = np.zeros(capacity, np.int8)
        seq_base = self.seq.ctypes.data
        self._seq_ptrs = (ctypes.POINTER(ctypes.c_int32) * capacity)(
            *[ctypes.cast(seq_base + 4 * i, ctypes.POINTER(ctypes.c_int32)) for i in range(capacity)]
        )
        self.struct = lib.llama_batch(
            n_tokens=0,
            token=self.token.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
            embd=None,
            pos=self.pos.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
            n_seq_id=self.n_seq.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
            seq_id=self._seq_ptrs,
            logits=self.logits.ctypes.data_as(ctypes.POINTER(ctypes.c_int8)),
        )


class GreedySamplers:
    """Token selection inside llama.cpp: per sequence a sampler chain (the masked EOS ids set to
    -inf, then greedy). The mask is `eos_mask`'s sampler (_llamacpp_loop.EosMask: no upload per
    step) or, without one or for more than `eos_mask.max_ids` ids, llama.cpp's logit bias. With
    `attach` the chains are attached to the context as backend samplers: the argmax runs in the
    decode graph (on the GPU when the model is there) and, with `eos_mask`'s `ids_only` ending the
    chain, only the chosen id comes back - not n_vocab float32 logits per sequence per step (without
    it llama.cpp copies the chain's logits to the host beside the id). Without `attach` (the
    engine's choice on the CPU), or where llama.cpp cannot run a sampler in the graph,
    `llama_sampler_sample` runs the same chain on the host over the logits: the same tokens
    either way. On the CPU the chain in the
    graph cost ~10 % of a tiny model's step against 2-6 % on the host (benchmarks/tg_params.c
    sample=1 vs 2/4, docs/results/cpu-overhead, 2026-12-07): each graph op is a barrier for the
    CPU threads."""

    def __init__(
        self, lib, ctx, slots: int, n_vocab: int, masked: list[int], eos_mask=None, attach: bool = True
    ):
        self.lib, self.ctx = lib, ctx
        masked = [i for i in masked if 0 <= i < n_vocab]  # an id outside the vocabulary is no token
        bias = (lib.llama_logit_bias * len(masked))(*[lib.llama_logit_bias(i, -math.inf) for i in masked])
        self.chains, attached = [], []
        for slot in range(slots):
            chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
            if masked:
                lib.llama_sampler_chain_add(
                    chain,
                    eos_mask.new(masked)
                    if eos_mask is not None and eos_mask.fits(masked)
                    else lib.llama_sampler_init_logit_bias(n_vocab, len(masked), bias),
                )
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
            if attach and eos_mask is not None:  # in the graph: only the id comes back, not the logits too
                lib.llama_sampler_chain_add(chain, eos_mask.ids_only())
            self.chains.append(chain)
            attached.append(attach and bool(lib.llama_set_sampler(ctx, slot, chain)))  # False: on the host
        self.in_graph = all(attached)
        self._sample = lib.llama_sampler_sample

    def tokens(self, order: list[Request], outputs: list[int]) -> list[int]:
        """The greedy id of each request in `order`, whose output is batch index `outputs[i]`."""
        sample, ctx, chains = self._sample, self.ctx, self.chains
        return [sample(chains[r.slot], ctx, i) for r, i in zip(order, outputs, strict=True)]

    def close(self) -> None:
        """Frees the chains; call after the context that uses them is freed."""
        for chain in self.chains:
            self.lib.llama_sampler_free(chain)
        self.chains = []


@dataclass
class StepCounts:
    """What the engine did, cumulative: llama_decode calls, those that only decoded (one token per
    running sequence, no prompt) and the sequences they carried: decode_sequences / decode_steps is
    how many sequences one llama_decode stepped together; and the running sequences moved down a slot."""

    decode_calls: int = 0
    decode_steps: int = 0
    decode_sequences: int = 0
    kv_moves: int = 0  # running sequences moved down into a free lower slot (Engine._compact)

    def __add__(self, other: StepCounts) -> StepCounts:
        return StepCounts(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


@dataclass(frozen=True)
class EngineSetup:
    """What every context of one loaded model is built from: the backend fills it in once, at load."""

    lib: Any  # llama_cpp.llama_cpp, the ctypes bindings
    np: Any  # numpy
    model: Any  # the llama_model pointer the contexts are made on
    n_vocab: int  # logits per output position
    masked: list[int]  # ids set to -inf before the argmax (EOS, as min_new_tokens does)
    cpu_threads: int  # ggml threads for decode and prefill
    kv_type: str  # KV cache type: f32, f16 or bf16
    flash_attn: str  # auto, on or off
    loop: Any = None  # a _llamacpp_loop.DecodeLoop: decode-only steps in C (None: one step() each)
    eos_mask: Any = None  # a _llamacpp_loop.EosMask for the masked ids (None: llama.cpp's logit bias)
    sample_in_graph: bool = True  # attach the sampler chains to the decode graph (GreedySamplers' attach)


class Engine:
    """One llama_context with `slots` sequences; used by one thread at a time. With `sample`
    False no sampler chain is attached: every position's logits can be read (`forward`).

    The KV cache has a stream per sequence (llama.cpp's default, `kv_unified` false), so each
    sequence attends over its own cells only. A unified cache (one stream all sequences share)
    makes every sequence's attention span every sequence's cells, masked: without flash attention
    that cost +57 % per step at batch 4 on the tiny model (`benchmarks/llamacpp_kv_ab.py`). With a
    stream per sequence llama.cpp cuts a llama_decode into one ubatch per run of consecutive
    ascending sequence ids (split_equal, sequential): slots handed out last-in-first-out made
    every other pass one ubatch per sequence (docs/results/h200, issue 24). So slots are taken
    lowest-first, each step's batch is ordered by slot, and before each step the running
    sequences are moved down into free lower slots (`_compact`: llama.cpp copies the stream),
    so that they hold slots 0..k-1 and newly admitted ones k, k+1, ...: a decode step is one
    ubatch however requests arrive and finish. `StepCounts.kv_moves` counts the moves."""

    def __init__(self, setup: EngineSetup, slots: int, context_tokens: int, sample: bool = True):
        self.setup, self.slots, self.context_tokens = setup, slots, context_tokens
        lib = setup.lib
        params = lib.llama_context_default_params()
        params.n_seq_max = slots
        params.n_ctx = slots * context_tokens  # a stream of context_tokens cells per sequence
        params.n_batch = params.n_ctx  # a whole batched prefill in one llama_decode call
        params.n_ubatch = min(512, params.n_ctx)
        params.kv_unified = False
        params.n_threads = params.n_threads_batch = setup.cpu_threads
        params.type_k = params.type_v = GGML_TYPE[setup.kv_type]
        params.flash_attn_type = _FLASH[setup.flash_attn]
        params.no_perf = True
        self.ctx = lib.llama_init_from_model(setup.model, params)
        if not self.ctx:
            raise RuntimeError(
                f"llama_init_from_model failed: {log_find('llama_init_from_model') or 'see log'}"
            )
        self.memory = lib.llama_get_memory(self.ctx)
        self.samplers = GreedySamplers(
            lib,
            self.ctx,
            slots if sample else 0,
            setup.n_vocab,
            setup.masked,
            setup.eos_mask,
            setup.sample_in_graph,
        )
        self.batch = Batch(lib, setup.np, params.n_batch)
        self.free = list(range(slots))  # a heap: the lowest free slot first
        self.active: list[Request] = []  # in slot order
        self.counts = StepCounts()

    def fits(self, request: Request) -> bool:
        """Whether prompt + output tokens fit in one sequence's context_tokens."""
        return len(request.prompt) + request.n <= self.context_tokens

    def step(self, admit: list[Request]) -> None:
        """One llama_decode: the last token of every running sequence, plus the prompts of `admit`."""
        lib, np, batch = self.setup.lib, self.setup.np, self.batch
        started = now()
        self._compact()
        running = self.active
        n = len(running)
        outputs = list(range(n))  # the batch index of each sequence's output, in batch order
        self._load_running(running)
        for request in admit:  # prefill: logits of the last prompt position only
            request.start = started
            request.slot = heapq.heappop(self.free)
            length = len(request.prompt)
            batch.token[n : n + length] = request.prompt
            batch.pos[n : n + length] = np.arange(length)
            batch.seq[n : n + length] = request.slot
            batch.logits[n : n + length] = 0
            batch.logits[n + length - 1] = 1
            n += length
            outputs.append(n - 1)
        batch.struct.n_tokens = n
        order = self.active + admit  # outputs come in batch order
        code = lib.llama_decode(self.ctx, batch.struct)
        if code != 0:
            raise RuntimeError(f"llama_decode returned {code} ({n} tokens, {len(order)} sequences)")
        tokens = self.samplers.tokens(order, outputs)
        stamped = now()  # the ids are in Python: every sequence of this step has its token
        self._count(len(self.active), not admit)
        self._settle(order, [[token] for token in tokens], [stamped])
        # Still in slot order: the running held 0..k-1 and `admit` took k, k+1, ... from the heap.

    def decode_run(self) -> None:
        """Decode-only steps of every running sequence in the C loop (setup.loop), until the first of
        them has its n tokens or the loop's stop flag is set (a request arrived): what step([]) does
        that many times, with no Python per step. Raises RuntimeError when llama_decode fails (the
        steps before it are kept)."""
        np = self.setup.np
        self._compact()
        running = self.active
        n = len(running)
        self._load_running(running)
        most = min(r.n - len(r.output) for r in running)
        tokens, times = np.empty(most * n, np.int32), np.empty(most, np.float64)
        chains = [self.samplers.chains[r.slot] for r in running]
        steps, code = self.setup.loop.run(self.ctx, self.batch.struct, chains, most, tokens, times)
        self._count(n, True, steps)
        self._settle(running, [tokens[k : steps * n : n].tolist() for k in range(n)], times[:steps].tolist())
        if code != 0:
            raise RuntimeError(f"llama_decode returned {code} ({n} tokens, {n} sequences)")

    def _load_running(self, running: list[Request]) -> None:
        """Batch indices 0..k-1: each running sequence's last token, its position, slot and output
        flag (a slice each, not k scalar writes)."""
        batch, k = self.batch, len(running)
        if k:
            batch.token[:k] = [r.output[-1] for r in running]
            batch.pos[:k] = [len(r.prompt) + len(r.output) - 1 for r in running]
            batch.seq[:k] = [r.slot for r in running]
            batch.logits[:k] = 1

    def _settle(self, order: list[Request], new_ids: list[list[int]], stamps: list[float]) -> None:
        """Each request of `order` takes its new ids (and, where stamped, `stamps`: one per step); those
        with their n tokens are finished, the rest stay running, in order."""
        self.active = []
        for request, ids in zip(order, new_ids, strict=True):
            request.output.extend(ids)
            if request.stamp:
                request.times.extend(stamps)
            if len(request.output) == request.n:
                self._finish(request, stamps[-1])
            else:
                self.active.append(request)

    def _finish(self, request: Request, end: float) -> None:
        """`request` has its n tokens: its KV and slot are let go, its caller woken."""
        request.end = end
        self.setup.lib.llama_memory_seq_rm(self.memory, request.slot, -1, -1)
        heapq.heappush(self.free, request.slot)
        request.done.set()

    def _compact(self) -> None:
        """Moves running sequences from slots >= k (k running) into the lowest free slots, which
        are then < k: the running batch holds slots 0..k-1, one run of ascending ids. llama.cpp
        queues the copy of the stream and makes it before the next decode's graph."""
        running, lib = len(self.active), self.setup.lib
        moved = False
        for request in reversed(self.active):  # highest slot first
            if request.slot < running:
                break
            low = heapq.heappop(self.free)  # < running: fewer than `running` sequences sit below it
            lib.llama_memory_seq_cp(self.memory, request.slot, low, -1, -1)
            lib.llama_memory_seq_rm(self.memory, request.slot, -1, -1)
            heapq.heappush(self.free, request.slot)
            request.slot, moved = low, True
            self.counts.kv_moves += 1
        if moved:
            self.active.sort(key=lambda r: r.slot)

    def _count(self, sequences: int, decode_only: bool, calls: int = 1) -> None:
        counts = self.counts
        counts.decode_calls += calls
        if decode_only:
            counts.decode_steps += calls
            counts.decode_sequences += sequences * calls

    def forward(self, ids: list[int]):
        """Logits after every prefix of `ids` (a copy, len(ids) x vocab) in sequence 0 of this
        (idle) context, whose KV is cleared again."""
        lib, np, batch = self.setup.lib, self.setup.np, self.batch
        n = len(ids)
        batch.token[:n] = ids
        batch.pos[:n] = np.arange(n)
        batch.seq[:n] = 0
        batch.logits[:n] = 1
        batch.struct.n_tokens = n
        code = lib.llama_decode(self.ctx, batch.struct)
        if code != 0:
            raise RuntimeError(f"llama_decode returned {code} ({n} tokens)")
        logits = np.ctypeslib.as_array(lib.llama_get_logits(self.ctx), shape=(n, self.setup.n_vocab)).copy()
        lib.llama_memory_seq_rm(self.memory, 0, -1, -1)
        return logits

    def admissible(self, pending: collections.deque) -> list[Request]:
        """Pops from the front of `pending`, in order, the requests the next step can take: limited by
        free slots, room left in the batch and context_tokens; stops at the first that does not fit."""
        admit, budget = [], self.batch.capacity - len(self.active)
        while (
            pending
            and len(admit) < len(self.free)
            and len(pending[0].prompt) <= budget
            and self.fits(pending[0])
        ):
            budget -= len(pending[0].prompt)
            admit.append(pending.popleft())
        return admit

    def abort(self, requests: list[Request], error: BaseException) -> None:
        """Fail `requests`: their callers get `error`, their slots and KV are let go."""
        for request in requests:
            if request.slot >= 0 and request.slot not in self.free:
                self.setup.lib.llama_memory_seq_rm(self.memory, request.slot, -1, -1)
                heapq.heappush(self.free, request.slot)
            if not request.done.is_set():
                request.error = error
                request.done.set()
        self.active = [r for r in self.active if r not in requests]

    def close(self) -> None:
        """Frees the llama_context, then its samplers (once)."""
        if self.ctx:
            self.setup.lib.llama_free(self.ctx)
            self.ctx = None
            self.samplers.close()
