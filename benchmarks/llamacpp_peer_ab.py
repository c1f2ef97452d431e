"""Where llmbench's llama.cpp decode step loses time against `llama-bench`'s tg (issue #28).

`llama-bench -p 0 -n 32 -d 128` times 32 one-token `llama_decode` calls after a 128-token context,
each followed by `llama_synchronize`, on a context of n_ctx = 160 and one sequence, and never reads
a logit. llmbench's engine decodes on a context of `slots` streams and selects each token with a
sampler chain (the EOS ids masked, greedy). In one process, on one loaded model, alternating rounds of
these variants at batch 1, each timing only the 32 decode steps after its prefill:
  tg             llama-bench's loop, written in Python over the same libllama: no token selection
  tg-c           the same loop in C (compiled here with cc), called once per round: llama-bench's loop
                 inside this process, to part Python's cost per step from the process's
  tg-slots       the same loop on a context shaped like the engine's (`slots` streams)
  host-sample    tg + the sampler chain run on the host (`llama_sampler_sample`, not attached)
  graph-sample   tg + the engine's chain attached to the context (`llama_set_sampler`): in the decode
                 graph, the EOS ids masked by llmbench's mask sampler (_llamacpp_loop.EosMask)
  graph-bias     the same with llama.cpp's logit-bias sampler as the mask (the engine's until 2026-12-07)
  engine         llmbench's `Engine`, each step from Python in this thread (decode_loop: python)
  engine-c       the same Engine, its 32 decode steps in the compiled loop (Engine.decode_run)
  engine-c-bias  engine-c with llama.cpp's logit bias as the mask
  measured       the backend's generate() as a benchmark job calls it (scheduler thread, C loop,
                 stamps): the 32 steps timed from its own first to last token stamp
Prints each variant's median decode tok/s with the spread of its rounds, and its ratio to tg.

    python benchmarks/llamacpp_peer_ab.py                        # the tiny model, CPU
    python benchmarks/llamacpp_peer_ab.py --model M/hf --gguf M/llamacpp-float16.gguf --device cuda
"""

import ctypes
import dataclasses
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from llmbench.backends import preload  # noqa: E402

preload("llamacpp")  # before numpy (see harness_overhead.py)

import harness_overhead as ho  # noqa: E402

from llmbench.backends._llamacpp_engine import Engine, GreedySamplers, Request  # noqa: E402
from llmbench.measure.levels import fixed_prompts  # noqa: E402

DEPTH, STEPS = 128, 32  # llama-bench's -d 128 -n 32


def host_chain(lib, n_vocab: int, masked: list[int]):
    """A chain of the EOS ids biased to -inf, then greedy, for the host."""
    chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
    masked = [i for i in masked if 0 <= i < n_vocab]
    if masked:
        bias = (lib.llama_logit_bias * len(masked))(*[lib.llama_logit_bias(i, -math.inf) for i in masked])
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_logit_bias(n_vocab, len(masked), bias))
    lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
    return chain


class Loop:
    """A context of `slots` streams of `cells` cells and a one-token decode loop over it; `sample`:
    None (read nothing, as llama-bench), "host" or "graph" (the engine's chain, not / attached; in
    the graph the mask is `setup.eos_mask`'s, or llama.cpp's logit bias when it is None)."""

    def __init__(self, setup, slots: int, cells: int, sample: str | None):
        lib = self.lib = setup.lib
        params = lib.llama_context_default_params()
        params.n_seq_max, params.kv_unified = slots, False
        params.n_ctx = slots * cells
        params.n_batch, params.n_ubatch = max(DEPTH, 512), 512
        params.n_threads = params.n_threads_batch = setup.cpu_threads
        params.flash_attn_type = {"auto": -1, "off": 0, "on": 1}[setup.flash_attn]
        params.no_perf = True
        self.ctx = lib.llama_init_from_model(setup.model, params)
        self.chain, self.attached = None, False
        if sample:
            if sample == "graph":  # the engine's chains, attached to the context
                self.samplers = GreedySamplers(lib, self.ctx, 1, setup.n_vocab, setup.masked, setup.eos_mask)
                self.chain, self.attached = self.samplers.chains[0], self.samplers.in_graph
            else:  # the same chain never attached: llama_sampler_sample runs it on the host
                self.chain = host_chain(lib, setup.n_vocab, setup.masked)
        self.batch = lib.llama_batch_init(max(DEPTH, 1), 0, 1)

    def _decode(self, tokens: list[int], position: int) -> None:
        batch = self.batch
        for i, token in enumerate(tokens):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, position + i, 1
            batch.seq_id[i][0], batch.logits[i] = 0, i == len(tokens) - 1
        batch.n_tokens = len(tokens)
        if self.lib.llama_decode(self.ctx, batch) != 0:
            raise RuntimeError("llama_decode failed")

    def round(self, prompt: list[int]) -> float:
        """Seconds for STEPS decode steps after `prompt` (untimed) fills the context."""
        lib = self.lib
        lib.llama_memory_clear(lib.llama_get_memory(self.ctx), True)
        self._decode(prompt, 0)
        token = self._next(prompt[-1])
        self.ids = [token]
        started = time.perf_counter()
        for step in range(STEPS):
            self._decode([token], len(prompt) + step)
            token = self._next(token)
            self.ids.append(token)
        return time.perf_counter() - started

    def _next(self, token: int) -> int:
        if self.chain is None:
            self.lib.llama_synchronize(self.ctx)
            return token
        return self.lib.llama_sampler_sample(self.chain, self.ctx, -1)


TG_SOURCE = r"""
#include <stdint.h>
typedef struct {
    int32_t n_tokens; int32_t *token; float *embd; int32_t *pos; int32_t *n_seq_id; int32_t **seq_id; int8_t *logits;
} llama_batch;  /* llama.h's */
typedef int32_t (*decode_fn)(void *ctx, llama_batch batch);
typedef void (*sync_fn)(void *ctx);

/* llama-bench's test_gen: `steps` one-token llama_decode calls from position `pos`, each synchronized. */
int32_t tg_steps(decode_fn decode, sync_fn sync, void *ctx, llama_batch *batch, int32_t steps, int32_t pos) {
    for (int32_t i = 0; i < steps; i++) {
        batch->n_tokens = 1, batch->pos[0] = pos + i;
        int32_t rc = decode(ctx, *batch);
        if (rc != 0) return rc;
        sync(ctx);
    }
    return 0;
}
"""


def compiled_tg(lib):
    """TG_SOURCE compiled with cc into a temporary folder: `run(ctx, batch, steps, pos)` -> llama_decode's code."""
    folder = Path(tempfile.mkdtemp(prefix="tg-c-"))
    (folder / "tg.c").write_text(TG_SOURCE)
    subprocess.run(
        ["cc", "-O2", "-shared", "-fPIC", "-o", str(folder / "tg.so"), str(folder / "tg.c")], check=True
    )
    function = ctypes.CDLL(str(folder / "tg.so")).tg_steps
    function.restype = ctypes.c_int32
    function.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_int32] * 2
    decode, sync = (ctypes.cast(f, ctypes.c_void_p) for f in (lib.llama_decode, lib.llama_synchronize))
    return lambda ctx, batch, steps, pos: function(decode, sync, ctx, ctypes.byref(batch), steps, pos)


def tg_c_round(loop: Loop, run, prompt: list[int]) -> float:
    """Loop.round's plain loop (no selection) with its STEPS decode steps in TG_SOURCE's C loop."""
    lib = loop.lib
    lib.llama_memory_clear(lib.llama_get_memory(loop.ctx), True)
    loop._decode(prompt, 0)
    batch = loop.batch  # one token of sequence 0, its logits out, as Loop.round's steps
    batch.token[0], batch.n_seq_id[0], batch.seq_id[0][0], batch.logits[0] = prompt[-1], 1, 0, 1
    started = time.perf_counter()
    code = run(loop.ctx, loop.batch, STEPS, len(prompt))
    elapsed = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"llama_decode returned {code}")
    return elapsed


def engine_round(engine: Engine, prompt: list[int]) -> float:
    """Seconds for STEPS engine steps after the admitting step (prefill + first token, untimed)."""
    request = Request(list(prompt), STEPS + 1, time.perf_counter())
    engine.step([request])
    started = time.perf_counter()
    while engine.active:
        engine.step([])
    elapsed = time.perf_counter() - started
    engine.ids = request.output
    return elapsed


def engine_c_round(engine: Engine, prompt: list[int]) -> float:
    """engine_round with the decode steps in the C loop (one decode_run: none arrives meanwhile)."""
    request = Request(list(prompt), STEPS + 1, time.perf_counter())
    engine.step([request])
    started = time.perf_counter()
    engine.decode_run()
    elapsed = time.perf_counter() - started
    assert not engine.active, "the C loop stopped early (its stop flag was set)"
    engine.c_ids = request.output
    return elapsed


def measured_round(backend, prompt: list[int]) -> float:
    """Seconds between the first and the last token stamp of one generate() of STEPS + 1 tokens."""
    generation = backend.generate(list(prompt), STEPS + 1)
    backend.measured_ids = generation.output_ids
    return generation.token_times[-1] - generation.token_times[0]


def main() -> None:
    parser = ho.build_parser()
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args(["--backend", "llamacpp", *sys.argv[1:]])
    if not args.model:
        args.model, args.artifact, args.gguf = ho.tiny_model()
    backend, _, config, device, dtype = ho.load(args)
    setup, options = backend._setup, backend.options
    biased = dataclasses.replace(setup, eos_mask=None)  # llama.cpp's logit bias masks the EOS ids
    slots, cells = options.slots, options.context_tokens
    prompt = fixed_prompts(1, DEPTH, config["vocab_size"], seed=0)[0]
    loops = {
        "tg": Loop(setup, 1, DEPTH + STEPS, None),
        "tg-c": Loop(setup, 1, DEPTH + STEPS, None),
        "tg-slots": Loop(setup, slots, cells, None),
        "host-sample": Loop(setup, 1, DEPTH + STEPS, "host"),
        "graph-sample": Loop(setup, 1, DEPTH + STEPS, "graph"),
        "graph-bias": Loop(biased, 1, DEPTH + STEPS, "graph"),
    }
    engine, engine_bias = Engine(setup, slots, cells), Engine(biased, slots, cells)
    variants = {name: (lambda loop=loop: loop.round(prompt)) for name, loop in loops.items()}
    tg_c = compiled_tg(setup.lib)
    variants["tg-c"] = lambda: tg_c_round(loops["tg-c"], tg_c, prompt)
    variants["engine"] = lambda: engine_round(engine, prompt)
    variants["engine-c"] = lambda: engine_c_round(engine, prompt)
    variants["engine-c-bias"] = lambda: engine_c_round(engine_bias, prompt)
    variants["measured"] = lambda: measured_round(backend, prompt)
    for run in variants.values():  # warm-up
        run()
    times = {name: [] for name in variants}
    for _ in range(args.reps):
        for name, run in variants.items():
            times[name].append(run())
    selecting = [loops[name].ids for name in ("host-sample", "graph-sample", "graph-bias")]
    selecting += [engine.ids, engine.c_ids, engine_bias.c_ids]
    selecting.append(backend.measured_ids)
    rates = {name: [STEPS / t for t in values] for name, values in times.items()}
    base = statistics.median(rates["tg"])
    print(
        f"llamacpp {device} {dtype} batch 1, depth {DEPTH}, {STEPS} steps, {args.reps} rounds; flash attention "
        f"{setup.flash_attn}; {setup.cpu_threads} threads; engine {slots} slots x {cells} cells; sampler attached in graph: "
        f"{loops['graph-sample'].attached and loops['graph-bias'].attached} (engine: {engine.samplers.in_graph}); the selecting variants' ids "
        f"the same: {all(ids == selecting[0] for ids in selecting)}"
    )
    for name, values in rates.items():
        q = statistics.quantiles(values, n=4, method="inclusive")  # never outside the rounds
        median = statistics.median(values)
        print(
            f"  {name:13s} {median:9.1f} tok/s (quartiles {q[0]:.1f} … {q[2]:.1f}); {median / base:6.1%} of tg"
        )
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
