"""llama.cpp through llama-cpp-python's low-level API, driven by token ids.

It loads the GGUF file that rule convert_llamacpp writes (llmbench.models.gguf_export).
The low-level API, because `Llama.generate` samples by default, keeps the previous
call's KV cache for a repeated prompt and knows no minimum length. Here the loop is
ours: `llama_decode` on a `llama_batch`, greedy with the EOS ids set to -inf, for
exactly `output_tokens` tokens - what transformers' `generate(do_sample=False,
min_new_tokens=n)` does. The selection is llama.cpp's own sampler chain (logit bias,
greedy) run inside the decode graph, so a step hands back one id per sequence, not
its logits. Steps that only decode run in a compiled loop (backends/_llamacpp_loop.py:
no Python per token, as llama-bench's loop), until a sequence finishes or a request
arrives; a step that admits prompts runs from Python. Each token is stamped once its
id is on the host (reading it waits for the device).

Concurrency, the way llama-server does it: one llama_context holds several
sequences (n_seq_max, a KV cache each), and one scheduler thread owns it. Every
step is one `llama_decode` over one token per running sequence plus the prompts of
newly admitted ones (continuous batching); `generate_batch` admits all its prompts
at once, concurrent `generate()` calls from Python threads are queued to the
scheduler. Why not a context per thread: contexts are not thread-safe, and
ggml's CPU threads are an OpenMP team per calling thread - a second caller's idle
team spun beside the busy one and made steps 3-10x slower; measured on 2 CPU cores
(tiny model, 4 concurrent calls): 6,106 output tok/s with the scheduler against
3,071 with a context per thread. `bare_generate` goes through the scheduler too.

Flash attention: llama.cpp's kernels round K/V through float16 (CPU: max |dlogit|
3e-3 instead of 3e-6 against transformers in float32), so it is off for float32
runs and llama.cpp's `auto` otherwise. Weights are read into memory (`load_mode:
read`), so RSS means what the process owns; `mmap` would count them as page cache.
A cuda request on a build without GPU offload, or with fewer layers offloaded than
all, is a failure, never CPU numbers.
"""

from __future__ import annotations

import collections
import queue
import re
import threading
from dataclasses import dataclass, fields

from ..clock import now
from ..record import placement
from ._llamacpp_engine import (
    KV_OF_DTYPE,
    LOAD_MODE,
    Engine,
    EngineSetup,
    Request,
    StepCounts,
    eos_ids,
    install_log,
    log_all,
    log_find,
)
from ._llamacpp_loop import DecodeLoop, EosMask, LoopUnavailable
from .base import Backend, BackendUnavailable, Generation, option


@dataclass(frozen=True)
class Options:
    """Settings of `backend_options.llamacpp`."""

    slots: int = option(
        1,
        "sequences the context holds at first; grown (context rebuilt) when idle and more arrive at once",
        {"type": "integer", "minimum": 1, "maximum": 256},
    )
    context_tokens: int = option(
        512,
        "KV cells per sequence at first; grown when idle and a request needs more",
        {"type": "integer", "minimum": 16},
    )
    kv_type: str | None = option(
        None,
        "KV cache type (null: the run dtype, as transformers keeps its cache)",
        {"enum": [None, "f32", "f16", "bf16"]},
    )
    flash_attn: str | None = option(
        None, "auto, on, off; null: off for float32, auto otherwise", {"enum": [None, "auto", "on", "off"]}
    )
    load_mode: str = option(
        "read",
        "read: weights copied into memory (RSS = what the process owns); mmap",
        {"enum": ["read", "mmap"]},
    )
    gpu_layers: int = option(
        -1,
        "layers offloaded on cuda (-1: all, and a run that offloads fewer is refused)",
        {"type": "integer", "minimum": -1},
    )
    decode_loop: str = option(
        "c",
        "c: decode-only steps in a compiled loop, no Python per token (needs a C compiler, as "
        "building llama-cpp-python does); python: every step from Python",
        {"enum": ["c", "python"]},
    )


class LlamaCppBackend(Backend):
    """llama.cpp on the converted GGUF file, every request batched by one scheduler thread."""

    Options = Options
    artifact_kind = "llamacpp"  # resources/models/{model}/llamacpp-{dtype}.gguf
    concurrency_means = {"concurrent": "scheduler", "batch": "one_decode"}

    packages = ("llama-cpp-python", "gguf")
    gives_logits = True
    reports_placement = True  # its device model buffers

    @staticmethod
    def preload() -> None:
        """Imports llama_cpp's native library; an ImportError is left for import_libraries to report."""
        try:
            import llama_cpp.llama_cpp  # noqa: F401
        except ImportError:
            pass  # import_libraries says so

    def import_libraries(self) -> None:
        """Imports llama_cpp and numpy, routes llama.cpp's log and initializes its backend; raises
        BackendUnavailable when llama_cpp is not importable."""
        try:
            import numpy as np
            from llama_cpp import llama_cpp as lib
        except ImportError as error:
            raise BackendUnavailable(f"llama_cpp is not importable: {error}") from error
        self._lib, self._np = lib, np
        install_log(lib)
        lib.llama_backend_init()

    def load(self) -> None:
        """Loads the GGUF and starts the scheduler; raises BackendUnavailable when cuda is asked and the
        build has no GPU offload or, with gpu_layers -1, not every layer was offloaded, and RuntimeError
        when llama.cpp cannot load the file."""
        lib, s, options = self._lib, self.settings, self.options
        self.gpu_offload = bool(lib.llama_supports_gpu_offload())
        if s.device == "cuda" and not self.gpu_offload:
            raise BackendUnavailable(
                "device cuda asked for, but this llama-cpp-python build has no GPU offload "
                "(built without CMAKE_ARGS=-DGGML_CUDA=on, or no GPU visible to it)"
            )
        self.kv_type = options.kv_type or KV_OF_DTYPE[s.dtype]
        self.flash_attn = options.flash_attn or ("off" if s.dtype == "float32" else "auto")
        params = lib.llama_model_default_params()
        params.n_gpu_layers = options.gpu_layers if s.device == "cuda" else 0
        params.load_mode = LOAD_MODE[options.load_mode]
        self.model = lib.llama_model_load_from_file(str(s.artifact).encode(), params)
        if not self.model:
            raise RuntimeError(f"llama.cpp could not load {s.artifact}: {log_find('error') or 'see log'}")
        # "load_tensors: offloaded 29/29 layers to GPU" (the layers and the output layer)
        found = re.search(r"offloaded (\d+)/(\d+) layers", log_find("offloaded") or "")
        self.offloaded = f"{found[1]}/{found[2]}" if found else None
        # Read now: the log keeps its last 2,000 lines, and context rebuilds push these out.
        self.placement = placement.from_buffer_log(log_all("model buffer size"))
        if s.device == "cuda" and params.n_gpu_layers < 0 and not (found and found[1] == found[2]):
            raise BackendUnavailable(
                f"device cuda asked for, but llama.cpp offloaded {self.offloaded} layers to the GPU"
            )
        vocab = lib.llama_model_get_vocab(self.model)
        self.n_vocab = lib.llama_vocab_n_tokens(vocab)
        # the EOS ids the chains mask: an id outside the vocabulary (or llama.cpp's -1, none) is no token
        self.masked = [
            i for i in eos_ids(s.model_dir) or [lib.llama_vocab_eos(vocab)] if 0 <= i < self.n_vocab
        ]
        self._loop = self._decode_loop(lib) if options.decode_loop == "c" else None
        # On the GPU the ids are chosen in the decode graph; on the CPU on the host, where that is faster
        # (GreedySamplers). Public, as eos_mask: harness_overhead gives the bare path the same.
        self.sample_in_graph = s.device != "cpu"
        try:  # public: benchmarks/harness_overhead.py hands its library to the bare path
            self.eos_mask = EosMask(lib)
        except LoopUnavailable:  # no compiler (decode_loop python): llama.cpp's logit bias masks them
            self.eos_mask = None
        self._setup = EngineSetup(
            lib,
            self._np,
            self.model,
            self.n_vocab,
            self.masked,
            s.cpu_threads,
            self.kv_type,
            self.flash_attn,
            self._loop,
            self.eos_mask,
            self.sample_in_graph,
        )
        self._lock = threading.Lock()
        self._engines: list[Engine] = []
        self._rebuilds = 0
        self._retired = StepCounts()  # the counts of engines closed by a rebuild
        self._queue: queue.Queue = queue.Queue()
        self._engine = self._new_engine(options.slots, options.context_tokens)
        self._scheduler = threading.Thread(target=self._serve, name="llamacpp-scheduler", daemon=True)
        self._scheduler.start()

    @staticmethod
    def _decode_loop(lib) -> DecodeLoop:
        try:
            return DecodeLoop(lib)
        except LoopUnavailable as error:
            raise BackendUnavailable(
                f"llama.cpp's C decode loop is unavailable: {error}. Fix that, or set "
                "backend_options.llamacpp.decode_loop: python (every step from Python, slower)"
            ) from error

    def _submit(self, item) -> None:
        """Queues `item` for the scheduler and ends a C decode run after its current step."""
        self._queue.put(item)
        if self._loop is not None:
            self._loop.stop.value = 1

    def _new_engine(self, slots: int, context_tokens: int) -> Engine:
        engine = Engine(self._setup, slots, context_tokens)
        self._engines.append(engine)
        return engine

    def _sized_for(self, engine: Engine, requests: list[Request]) -> Engine:
        """`engine` if every request fits it, else a larger one (called only while it is idle)."""
        slots = max(len(requests), engine.slots)
        tokens = max(engine.context_tokens, -(-max(len(r.prompt) + r.n for r in requests) // 256) * 256)
        if slots <= engine.slots and tokens <= engine.context_tokens:
            return engine
        engine.close()
        self._engines.remove(engine)
        self._rebuilds += 1
        self._retired = self._retired + engine.counts
        self._engine = self._new_engine(slots, tokens)
        return self._engine

    def _serve(self) -> None:
        """The scheduler thread: owns the context; batches whatever requests are queued."""
        pending: collections.deque[Request] = collections.deque()
        while True:
            engine = self._engine
            if self._loop is not None:
                self._loop.stop.value = 0  # set again by whatever arrives from here on
            if not pending and not engine.active:
                item = self._queue.get()  # idle: wait for work
                if item is None:
                    return
                if isinstance(item, _Reserve):
                    self._reserve(engine, item)
                    continue
                pending.extend(item)
            while self._queue.queue:  # everything that arrived meanwhile (no Empty raised per step)
                item = self._queue.get_nowait()  # this thread is the only consumer
                if item is None:
                    self._queue.put(None)  # finish what runs, then stop
                    break
                if isinstance(item, _Reserve):
                    self._queue.put(item)  # sized when idle
                    break
                pending.extend(item)
            if self._loop is not None and self._queue.queue:
                self._loop.stop.value = 1  # a put-back item holds others behind it: one step, then read again
            admit: list[Request] = []
            try:
                if not engine.active and pending:
                    engine = self._sized_for(engine, list(pending))
                admit = engine.admissible(pending) if pending else []
                if admit or (engine.active and self._loop is None):
                    engine.step(admit)
                elif engine.active:
                    engine.decode_run()
            except BaseException as error:  # every caller in flight gets the error; the scheduler goes on
                engine.abort([*engine.active, *admit, *pending], error)
                pending.clear()

    def _reserve(self, engine: Engine, reserve: _Reserve) -> None:
        try:
            self._sized_for(engine, reserve.requests)
        except BaseException as error:
            reserve.error = error
        reserve.done.set()

    def prepare(self, concurrency: int, sequence_tokens: int) -> None:
        """Sizes the context for `concurrency` sequences of `sequence_tokens` (prompt + output) before
        the warm-up, so that neither warm-up nor measured passes rebuild it, and a thread pool's
        requests all find a slot at once (5 workers once ran on 3-4 slots set by a race); raises
        what llama.cpp raised creating the context."""
        placeholder = Request([0] * max(1, sequence_tokens - 1), 1, now())
        reserve = _Reserve([placeholder] * concurrency)
        self._submit(reserve)
        reserve.done.wait()
        if reserve.error is not None:
            raise reserve.error

    def counters(self) -> dict[str, int]:
        """slots, context_rebuilds, and the engine's cumulative StepCounts (decode_calls, decode_steps,
        decode_sequences, kv_moves); read between passes (the scheduler idle)."""
        counts = self._retired + self._engine.counts
        return {
            "slots": self._engine.slots,
            "context_rebuilds": self._rebuilds,
            **{f.name: getattr(counts, f.name) for f in fields(StepCounts)},
        }

    def _run(self, requests: list[Request]) -> list[Generation]:
        self._submit(requests)
        for request in requests:
            request.done.wait()
        return [r.generation() for r in requests]

    def generate(self, prompt_ids: list[int], output_tokens: int) -> Generation:
        """A batch of one through generate_batch."""
        return self.generate_batch([prompt_ids], output_tokens)[0]

    def generate_batch(self, prompts: list[list[int]], output_tokens: int) -> list[Generation]:
        """True batching: every prompt in one context, one llama_decode per step for all."""
        start = now()
        for prompt in prompts:  # a bad id would fail the whole decode step, batch-mates included
            if not prompt or min(prompt) < 0 or max(prompt) >= self.n_vocab:
                raise ValueError(f"prompt ids must be 0..{self.n_vocab - 1} and at least one")
        return self._run([Request(list(p), output_tokens, start) for p in prompts])

    def bare_generate(self, prompt_ids: list[int], output_tokens: int) -> list[int]:
        """The same scheduler path without per-token stamps."""
        return self._run([Request(list(prompt_ids), output_tokens, now(), stamp=False)])[0].output_ids

    def teacher_forced_logits(self, ids: list[int]):
        """One llama_decode over `ids` in a context of its own (one sequence), logits at every
        position; not through the scheduler (call it while no request runs)."""
        engine = Engine(self._setup, 1, -(-len(ids) // 256) * 256, sample=False)
        try:
            return engine.forward(ids)
        finally:
            engine.close()

    def describe(self) -> dict:
        """llama.cpp's system info, GPU offload, buffer sizes from its log, the weights on the device and
        host (its model buffers, read at load), threads, slots, context tokens per slot and rebuilds, KV
        type, flash attention (asked and resolved), masked ids, decoding and whether the sampler chain ran
        in the decode graph."""
        lib, engine = self._lib, self._engine
        return {
            "system_info": lib.llama_print_system_info().decode().strip(),
            "gpu_offload_supported": self.gpu_offload,
            "gpu_layers_offloaded": self.offloaded,
            "buffers": log_all(
                "buffer size"
            ),  # where the weights and KV cache are: "CUDA0 model buffer size = ..."
            **self.placement,
            "cpu_threads": lib.llama_n_threads(engine.ctx),
            "concurrency": "one context, a scheduler thread batching every request",
            "slots": engine.slots,
            "context_tokens_per_slot": engine.context_tokens,
            "context_rebuilds": self._rebuilds,
            "kv_type": self.kv_type,
            "flash_attn": self.flash_attn,
            "flash_attn_resolved": log_find("Flash Attention"),
            "masked_ids": self.masked,
            "decoding": "greedy, llama.cpp's sampler chain; "
            + self._masking()
            + ("; only the chosen id leaves the graph" if self.eos_mask and engine.samplers.in_graph else ""),
            "sampler_in_decode_graph": engine.samplers.in_graph,  # False: the chain ran on the host
            "decode_loop": self.options.decode_loop,  # c: decode-only steps without Python per token
            # what the file stores, fallbacks included ("file size = 0.79 MiB (7.46 BPW)")
            "stored_bits_per_weight": _bpw(log_find("BPW")),
        }

    def _masking(self) -> str:
        """How the chains mask EOS, in words (GreedySamplers' choice)."""
        if not self.masked:
            return "no EOS id in the vocabulary: nothing masked"
        if self.eos_mask and self.eos_mask.fits(self.masked):
            return "EOS ids set to -inf by llmbench's mask sampler"
        return "EOS ids set to -inf by llama.cpp's logit bias"

    def close(self) -> None:
        """Stops the scheduler (waiting up to 30 s), then frees every context and the model."""
        self._submit(None)
        self._scheduler.join(timeout=30)
        for engine in list(self._engines):
            engine.close()
        self._engines.clear()
        if getattr(self, "model", None):
            self._lib.llama_model_free(self.model)
            self.model = None


def _bpw(line: str | None) -> float | None:
    found = re.search(r"\(([\d.]+) BPW\)", line or "")
    return float(found[1]) if found else None


@dataclass
class _Reserve:
    """A scheduler item: size the context for these (placeholder) requests while idle."""

    requests: list[Request]
    error: BaseException | None = None
    done: threading.Event = None

    def __post_init__(self):
        self.done = threading.Event()


BACKEND = LlamaCppBackend
