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

The same library holds `mask`, a llama_sampler (llama.h's interface for user samplers) that sets
the logits of the masked EOS ids to -inf, in the decode graph when the chain is attached: there it
is one FILL of a one-element tensor and one in-place SET per id. llama.cpp's logit-bias sampler, the
other way to mask, fills an n_vocab vector, SET_ROWS and ADDs it, and uploads its bias and index
tensors with two blocking host-to-device copies before every step (llama-sampler.cpp,
llama_sampler_logit_bias_backend_*). Its ggml functions too come in as pointers, found through
libllama's handle (dlsym searches the library's dependencies, libggml-base among them).

And `ids_only`, the last sampler of a chain attached to the decode graph: it drops the chain's logits
from the graph's outputs once greedy has chosen, so that llama.cpp copies one id per sequence to the
host after a step instead of the id and n_vocab float32 logits (260 KB for ChatGLM2's 65,024).
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

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* llama.h's sampler types, as far as `mask` needs them (llama-cpp-python 0.3.36's llama.cpp). */
typedef struct { int32_t id; float logit; float p; } token_data;
typedef struct { token_data *data; size_t size; int64_t selected; _Bool sorted; } token_data_array;
typedef struct { void *logits, *probs, *sampled, *candidates; } sampler_data;
typedef struct { const void *iface; void *ctx; } sampler;
typedef struct {
    const char *(*name)(const sampler *);
    void (*accept)(sampler *, int32_t);
    void (*apply)(sampler *, token_data_array *);
    void (*reset)(sampler *);
    sampler *(*clone)(const sampler *);
    void (*free)(sampler *);
    _Bool (*backend_init)(sampler *, void *buft, uint32_t n_outputs_max_per_seq);
    void (*backend_accept)(sampler *, void *ctx, void *gf, void *selected);
    void (*backend_apply)(sampler *, void *ctx, void *gf, sampler_data *data);
    void (*backend_set_input)(sampler *);
    void (*backend_reset)(sampler *);
    void (*copy_state)(const sampler *, sampler *);
} sampler_iface;

typedef sampler *(*sampler_init_fn)(const sampler_iface *iface, void *ctx);
typedef void *(*fill_fn)(void *ctx, void *a, float c);                     /* ggml_fill */
typedef void *(*view_1d_fn)(void *ctx, void *a, int64_t ne0, size_t offset); /* ggml_view_1d */
typedef void *(*set_1d_fn)(void *ctx, void *a, void *b, size_t offset);      /* ggml_set_1d_inplace */

typedef struct {
    sampler_init_fn init;
    fill_fn fill;
    view_1d_fn view_1d;
    set_1d_fn set_1d_inplace;
    int32_t n;
    int32_t ids[];
} mask_ctx;

static const char *mask_name(const sampler *smpl) { (void)smpl; return "llmbench-mask"; }

static void mask_apply(sampler *smpl, token_data_array *cur) {
    const mask_ctx *m = smpl->ctx;
    for (int32_t k = 0; k < m->n; k++) {
        int32_t id = m->ids[k];
        if (id >= 0 && (size_t)id < cur->size && cur->data[id].id == id) { /* llama.cpp's array: id i at i */
            cur->data[id].logit = -INFINITY;
            continue;
        }
        for (size_t i = 0; i < cur->size; i++) /* any other order */
            if (cur->data[i].id == id)
                cur->data[i].logit = -INFINITY;
    }
}

static mask_ctx *mask_copy(const mask_ctx *m) {
    size_t size = sizeof *m + (size_t)m->n * sizeof m->ids[0];
    mask_ctx *copy = malloc(size);
    if (copy)
        memcpy(copy, m, size);
    return copy;
}

static sampler *mask_clone(const sampler *smpl);

static void free_ctx(sampler *smpl) { free(smpl->ctx); }

static _Bool backend_any(sampler *smpl, void *buft, uint32_t n_outputs_max_per_seq) {
    (void)smpl, (void)buft, (void)n_outputs_max_per_seq;
    return 1;
}

static void mask_backend_apply(sampler *smpl, void *ctx, void *gf, sampler_data *data) {
    (void)gf;
    const mask_ctx *m = smpl->ctx;
    if (m->n == 0)
        return;
    void *inf = m->fill(ctx, m->view_1d(ctx, data->logits, 1, 0), -INFINITY); /* a new 1-element tensor */
    for (int32_t k = 0; k < m->n; k++)
        data->logits = m->set_1d_inplace(ctx, data->logits, inf, (size_t)m->ids[k] * sizeof(float));
}

static const sampler_iface mask_iface = {
    .name = mask_name,
    .apply = mask_apply,
    .clone = mask_clone,
    .free = free_ctx,
    .backend_init = backend_any,
    .backend_apply = mask_backend_apply,
};

static sampler *mask_clone(const sampler *smpl) {
    const mask_ctx *m = smpl->ctx;
    mask_ctx *copy = mask_copy(m);
    return copy ? m->init(&mask_iface, copy) : 0;
}

/* `ids_only`: ends a chain attached to the decode graph at the chosen id. build_sampling keeps the chain's
   logits as an output, and llama.cpp copies all n_vocab of them to the host after every step (the chain's
   "sampled logits"); nothing reads them where greedy has chosen. On the host it does nothing. */
typedef struct { sampler_init_fn init; } ids_only_ctx;

static const char *ids_only_name(const sampler *smpl) { (void)smpl; return "llmbench-ids-only"; }

static void ids_only_apply(sampler *smpl, token_data_array *cur) { (void)smpl, (void)cur; }

static void ids_only_backend_apply(sampler *smpl, void *ctx, void *gf, sampler_data *data) {
    (void)smpl, (void)ctx, (void)gf;
    if (data->sampled) /* an id was chosen: nothing else leaves the graph */
        data->logits = data->probs = data->candidates = 0;
}

static sampler *ids_only_clone(const sampler *smpl);

static const sampler_iface ids_only_iface = {
    .name = ids_only_name,
    .apply = ids_only_apply,
    .clone = ids_only_clone,
    .free = free_ctx,
    .backend_init = backend_any,
    .backend_apply = ids_only_backend_apply,
};

void *llmbench_ids_only_new(sampler_init_fn init)
{
    ids_only_ctx *c = malloc(sizeof *c);
    if (!c)
        return 0;
    c->init = init;
    return init(&ids_only_iface, c);
}

static sampler *ids_only_clone(const sampler *smpl) {
    return llmbench_ids_only_new(((const ids_only_ctx *)smpl->ctx)->init);
}

void *llmbench_mask_new(sampler_init_fn init, fill_fn fill, view_1d_fn view_1d, set_1d_fn set_1d_inplace,
                        const int32_t *ids, int32_t n)
{
    mask_ctx *m = malloc(sizeof *m + (size_t)n * sizeof m->ids[0]);
    if (!m)
        return 0;
    m->init = init, m->fill = fill, m->view_1d = view_1d, m->set_1d_inplace = set_1d_inplace, m->n = n;
    memcpy(m->ids, ids, (size_t)n * sizeof ids[0]);
    return init(&mask_iface, m);
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
    try:
        command = shlex.split(compiler)  # CC may carry a wrapper or flags: "ccache cc", "gcc -m64"
    except ValueError as error:  # an unclosed quote
        raise LoopUnavailable(f"CC {compiler!r} does not parse as a command: {error}") from error
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


def loaded_function(name: str, library: Path | None = None):
    """SOURCE's function `name` from the compiled `library` (default: compiled_library(), built now if
    need be); raises LoopUnavailable when the library cannot be built or does not load."""
    library = library or compiled_library()
    try:
        return getattr(ctypes.CDLL(str(library)), name)
    except (OSError, AttributeError) as error:  # not a library, or not this source's
        raise LoopUnavailable(f"{library} does not load ({error}); delete it to build it again") from error


class EosMask:
    """`new(ids)`: SOURCE's `mask` sampler over llama-cpp-python's `lib`, for a llama_sampler_chain;
    `ids_only()`: SOURCE's `ids_only` sampler, from the same file; `library`: the compiled file.
    Raises LoopUnavailable when the library cannot be built or loaded."""

    GGML = ("ggml_fill", "ggml_view_1d", "ggml_set_1d_inplace")
    # The most ids to mask this way: one graph node per id, and llama.cpp's sampling graph has a node
    # pool of its own size (2,047 ids aborted in ggml_new_object on the tiny model); more: logit bias.
    max_ids = 64

    def __init__(self, lib):
        self.library = compiled_library()  # the file, for a process that must not import llmbench
        self._new = loaded_function("llmbench_mask_new", self.library)
        self._new.restype = lib.llama_sampler_p_ctypes  # what llama_sampler_chain_add takes
        self._new.argtypes = [ctypes.c_void_p] * 5 + [ctypes.c_int32]
        self._ids_only = loaded_function("llmbench_ids_only_new", self.library)
        self._ids_only.restype = lib.llama_sampler_p_ctypes
        self._ids_only.argtypes = [ctypes.c_void_p]
        handle = lib._lib  # libllama's CDLL: dlsym through it finds ggml's functions in its dependencies
        self._functions = [ctypes.cast(lib.llama_sampler_init, ctypes.c_void_p)]
        self._functions += [ctypes.cast(getattr(handle, name), ctypes.c_void_p) for name in self.GGML]

    def fits(self, ids: list[int]) -> bool:
        """Whether this sampler masks `ids` (not more than max_ids of them); else llama.cpp's logit bias does."""
        return len(ids) <= self.max_ids

    def ids_only(self):
        """A llama_sampler (a ctypes pointer; the chain it is added to frees it) that, last in a chain
        attached to the decode graph, keeps only the chosen id as the chain's output (SOURCE's
        `ids_only`); raises MemoryError when it cannot be allocated."""
        sampler = self._ids_only(self._functions[0])
        if not sampler:
            raise MemoryError("llmbench_ids_only_new could not allocate")
        return sampler

    def new(self, ids: list[int]):
        """A llama_sampler (a ctypes pointer; the chain it is added to frees it) that sets the logits
        of `ids` to -inf; raises MemoryError when it cannot be allocated."""
        array = (ctypes.c_int32 * len(ids))(*ids)
        sampler = self._new(*self._functions, array, len(ids))
        if not sampler:
            raise MemoryError("llmbench_mask_new could not allocate its ids")
        return sampler


class DecodeLoop:
    """`run(...)`: the C loop bound to llama-cpp-python's `lib` (its llama_decode and
    llama_sampler_sample); raises LoopUnavailable when it cannot be built or loaded."""

    def __init__(self, lib):
        self._steps = loaded_function("llmbench_decode_steps")
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
