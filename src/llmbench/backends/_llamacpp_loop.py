"""llama.cpp's decode steps in a C loop: no Python per token.

A Python loop over `llama_decode` and `llama_sampler_sample` costs its interpreter work on
every step, and nothing of it is inference: on the H100 (chatglm2-6b shape, batch 1) the
leanest Python loop reached 98.7 % of `llama-bench`'s tg figure over the same libllama
(docs/results/h100/README.md, `benchmarks/llamacpp_peer_ab.py`). So the decode-only steps of
the running sequences run here, in C, as llama-bench's own loop does: one `llama_decode`, each
sequence's id from its sampler chain, the id put back into the batch, the time stamped, again.
The loop returns after `max_steps` or, after a step, once `*stop` is nonzero (the scheduler sets
it when a request arrives: continuous batching admits it at the next step, as before).

The source is compiled once per source text with the C compiler (`$CC`, else `cc`) into the
user's cache folder; it links nothing: llama.cpp's two functions come in as pointers from the
library llama-cpp-python loaded, so the loop runs against exactly that build. Its stamps come
from CLOCK_MONOTONIC, the clock of Python's `time.perf_counter` (llmbench.clock.now) on Linux.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = r"""
#include <stdint.h>
#include <time.h>

/* llama.h's struct llama_batch (llama-cpp-python's llama_cpp.llama_batch declares the same). */
typedef struct {
    int32_t n_tokens;
    int32_t *token;
    float *embd;
    int32_t *pos;
    int32_t *n_seq_id;
    int32_t **seq_id;
    int8_t *logits;
} llama_batch;

typedef int32_t (*decode_fn)(void *ctx, llama_batch batch);
typedef int32_t (*sample_fn)(void *sampler, void *ctx, int32_t idx);

int32_t llmbench_decode_steps(decode_fn decode, sample_fn sample, void *ctx, llama_batch *batch,
                              void **chains, int32_t n, int32_t max_steps, volatile int32_t *stop,
                              int32_t *tokens, double *times, int32_t *code)
{
    struct timespec now;
    *code = 0;
    for (int32_t step = 0; step < max_steps; step++) {
        batch->n_tokens = n;
        int32_t rc = decode(ctx, *batch);
        if (rc != 0) {
            *code = rc;
            return step;
        }
        for (int32_t i = 0; i < n; i++) {
            int32_t token = sample(chains[i], ctx, i);
            tokens[step * n + i] = token;
            batch->token[i] = token;
            batch->pos[i] += 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        times[step] = (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
        if (*stop)
            return step + 1;
    }
    return max_steps;
}
"""


class LoopUnavailable(RuntimeError):
    """The C loop could not be compiled or loaded (no compiler, or it failed); the message says why."""


def cache_folder() -> Path:
    """Where compiled loops are kept: $XDG_CACHE_HOME/llmbench, else ~/.cache/llmbench."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "llmbench"


def compiled_library() -> Path:
    """The shared library of SOURCE, compiled now if this source was never compiled here; raises
    LoopUnavailable with the compiler's complaint when there is no compiler or it fails."""
    compiler = os.environ.get("CC") or "cc"
    command = shlex.split(compiler)  # CC may carry a wrapper or flags: "ccache cc", "gcc -m64"
    digest = hashlib.sha256(f"{compiler}\n{sys.platform}\n{SOURCE}".encode()).hexdigest()[:16]
    library = cache_folder() / f"llamacpp-decode-loop-{digest}.so"
    if library.is_file():
        return library
    if not command or shutil.which(command[0]) is None:
        raise LoopUnavailable(f"no C compiler {compiler!r} on PATH (set CC to one)")
    try:
        library.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=library.parent) as work:
            source, built = Path(work) / "loop.c", Path(work) / "loop.so"
            source.write_text(SOURCE)
            done = subprocess.run(
                [*command, "-O2", "-shared", "-fPIC", "-o", str(built), str(source)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise LoopUnavailable(f"{compiler} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
            if not built.is_file() or built.stat().st_size == 0:  # never cache what cannot load
                raise LoopUnavailable(f"{compiler} exited 0 but wrote no library")
            os.replace(built, library)  # atomic: a concurrent job sees the old state or the whole library
    except OSError as error:
        raise LoopUnavailable(
            f"cannot build it in {library.parent}: {error} (set XDG_CACHE_HOME to a writable folder)"
        ) from error
    return library


class DecodeLoop:
    """`run(...)`: the C loop bound to llama-cpp-python's `lib` (its llama_decode and
    llama_sampler_sample); raises LoopUnavailable when it cannot be built or loaded."""

    def __init__(self, lib):
        library = compiled_library()
        try:
            self._steps = ctypes.CDLL(str(library)).llmbench_decode_steps
        except (OSError, AttributeError) as error:  # not a library, or not this loop's
            raise LoopUnavailable(
                f"{library} does not load ({error}); delete it to build it again"
            ) from error
        self._steps.restype = ctypes.c_int32
        self._steps.argtypes = (
            [ctypes.c_void_p] * 5 + [ctypes.c_int32, ctypes.c_int32] + [ctypes.c_void_p] * 4
        )
        self._decode = ctypes.cast(lib.llama_decode, ctypes.c_void_p)
        self._sample = ctypes.cast(lib.llama_sampler_sample, ctypes.c_void_p)
        self.stop = ctypes.c_int32(0)  # set by another thread to end the loop after its step

    def run(self, ctx, batch, chains: list, max_steps: int, tokens, times) -> tuple[int, int]:
        """Up to `max_steps` decode steps of the n = len(chains) sequences at batch indices 0..n-1
        (their token, position, sequence id and logits flag set in `batch`, a ctypes llama_batch):
        step k's ids go to tokens[k*n : (k+1)*n] (int32 numpy, >= max_steps*n) and its time (s,
        perf_counter's clock) to times[k] (float64 numpy, >= max_steps). Returns (steps done,
        llama_decode's nonzero code or 0); the GIL is released while it runs."""
        code = ctypes.c_int32(0)
        array = (ctypes.c_void_p * len(chains))(*[ctypes.cast(c, ctypes.c_void_p) for c in chains])
        steps = self._steps(
            self._decode,
            self._sample,
            ctx,
            ctypes.byref(batch),
            array,
            len(chains),
            max_steps,
            ctypes.byref(self.stop),
            tokens.ctypes.data,
            times.ctypes.data,
            ctypes.byref(code),
        )
        return steps, code.value
