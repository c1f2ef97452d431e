"""Bare paths: each backend's library driven the way its own examples drive it, sharing no code with llmbench.

benchmarks/harness_overhead.py times llmbench's measured path against these. A bare
path imports nothing from llmbench: it gets the library's own loaded model object (so
the weights are in memory once), plain settings, and does the rest itself - its own
generation config, cache, context, batch and loop. Exact lengths, greedy, EOS masked,
as llmbench generates, so both paths do the same work (harness_overhead.py checks the
ids agree before it times anything).

    transformers  `model.generate()` with its own GenerationConfig, no streamer; [B, L] at once when batched
    hf-compile    a static-cache greedy loop written here; on CUDA its decode step compiled here
                  (torch.compile, reduce-overhead: CUDA graphs), one wait for the device at the end
    FastLLM       FastLLM's own benchmark loop over its C API (launch all, poll round robin, 0.5 ms
                  sleep when idle) with its bulk fetch: Python per poll that finds tokens
    llama.cpp     its own context, `llama_batch`, `llama_decode`, and greedy + an EOS mask as a backend
                  sampler chain set at context creation (llama.h's recommended way), one id read per
                  sequence per step. The mask is the engine's, so that both do the same work: the
                  compiled file of llmbench's mask sampler (settings' eos_mask_library, loaded here with
                  ctypes: no llmbench code imported), else llama.cpp's logit bias - which uploads two
                  tensors every step and cost 1-2.6 % batched on the H100 (docs/results/h100, 2026-12-07).
                  The chains are in the decode graph where the engine's are (sampler_in_graph: on a GPU),
                  and end there, as the engine's, with its ids_only sampler (settings' ids_only_library:
                  llama.cpp copies no logits to the host), else run on the host by llama_sampler_sample.
                  The prefill's step from Python, the decode-only steps in a C loop compiled here
                  (STEPS_SOURCE: llama-bench's tg loop plus the id per sequence), as the engine's run in
                  its own; settings' steps_in "python" keeps every step in Python (until 2026-12-08)

Each class: ``__init__(model, settings)``, ``run(prompts, output_tokens) -> ids per prompt``
(all prompts as one batch), ``close()``. `settings` is a plain dict: device, dtype, cpu_threads,
eos_ids, and per backend kv_type / flash_attn / eos_mask_library / ids_only_library / sampler_in_graph
(llama.cpp),
compiled (hf-compile).

A class whose ``own_process_on`` names the device runs there in a process of its own
(:class:`OwnProcess`, which loads the model file itself through the class's ``from_file``): on the
CPU, llama.cpp's threads are an OpenMP team per calling thread, and with the engine's team and the
bare loop's in one process libgomp counts the cores oversubscribed and stops spinning between
steps - on 2 cores both paths ran ~10x slower than either alone (2026-12-07, docs/results/cpu-overhead).
A job has one team.
"""

from __future__ import annotations

import ctypes
import json
import math
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def eos_ids(model_dir: str) -> list[int]:
    """Every EOS id the folder's config.json and generation_config.json name (all are masked)."""
    ids: set[int] = set()
    for name in ("config.json", "generation_config.json"):
        path = Path(model_dir) / name
        value = json.loads(path.read_text()).get("eos_token_id") if path.is_file() else None
        if value is not None:
            ids.update([value] if isinstance(value, int) else value)
    return sorted(ids)


class TransformersBare:
    """transformers' `generate()` as its documentation calls it."""

    def __init__(self, model, settings: dict):
        import torch
        from transformers import GenerationConfig

        self.torch, self.model, self.device = torch, model, settings["device"]
        self.config = GenerationConfig(
            do_sample=False,
            num_beams=1,
            eos_token_id=settings["eos_ids"] or None,
            pad_token_id=model.config.pad_token_id,
        )

    def run(self, prompts: list[list[int]], output_tokens: int) -> list[list[int]]:
        """Greedy `output_tokens` after each prompt (equal lengths), one generate() call."""
        torch = self.torch
        inputs = torch.tensor(prompts, device=self.device)
        with torch.inference_mode():
            output = self.model.generate(
                inputs,
                attention_mask=torch.ones_like(inputs),
                generation_config=self.config,
                max_new_tokens=output_tokens,
                min_new_tokens=output_tokens,
            )
        return output[:, inputs.shape[1] :].tolist()

    def close(self) -> None:
        """Nothing of its own to free."""


class StaticCacheBare:
    """A static-cache greedy loop on the transformers model; the decode step compiled on CUDA."""

    def __init__(self, model, settings: dict):
        import inspect

        import torch
        from transformers import StaticCache

        self.torch, self.model, self.device = torch, model, settings["device"]
        self.StaticCache, self.caches = StaticCache, {}
        self.eos = torch.tensor(settings["eos_ids"], dtype=torch.long, device=self.device)
        self.kwarg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self.compiled = settings["compiled"]
        step = self._step
        self.step = torch.compile(step, mode="reduce-overhead", fullgraph=True) if self.compiled else step

    def _pick(self, logits):
        logits = logits[:, -1, :].float()
        if len(self.eos):
            logits[:, self.eos] = -math.inf
        return logits.argmax(dim=-1, keepdim=True)

    def _step(self, token, position, cache):
        return self._pick(self.model(input_ids=token, cache_position=position, **{self.kwarg: cache}).logits)

    def run(self, prompts: list[list[int]], output_tokens: int) -> list[list[int]]:
        """Greedy `output_tokens` after each prompt (equal lengths), one batch."""
        torch = self.torch
        length = len(prompts[0])
        key = (len(prompts), length + output_tokens)
        if key not in self.caches:
            self.caches[key] = self.StaticCache(config=self.model.config, max_cache_len=key[1])
        cache = self.caches[key]
        with torch.inference_mode():
            cache.reset()
            positions = torch.arange(key[1], device=self.device)
            inputs = torch.tensor(prompts, device=self.device)
            token = self._step(inputs, positions[:length], cache)
            tokens = [token]
            for position in range(length, length + output_tokens - 1):
                if self.compiled:
                    torch.compiler.cudagraph_mark_step_begin()
                token = self.step(token, positions[position : position + 1], cache).clone()
                tokens.append(token)
            return torch.cat(tokens, dim=1).tolist()

    def close(self) -> None:
        """Nothing of its own to free."""


class FastLLMBare:
    """FastLLM's own benchmark loop (ftllm/benchmark.py `_run_batch`): launch every request, then poll
    them round robin, sleeping 0.5 ms when none had a token - with two changes: min_len = max_len
    (exact lengths, EOS masked) and ftllm's bulk fetch (every ready token in one C call): Python runs
    per poll that finds tokens, not per token. (The fetches themselves spin until a token exists: on
    2 cores a blocking loop made generation 2.5-4x slower, notes/ftllm.md.)"""

    POLL_SLEEP_S = 0.0005  # ftllm/benchmark.py's

    def __init__(self, model, settings: dict):
        from ftllm import llm

        self.lib, self.handle = llm.fastllm_lib, model.model
        self.buffer = (ctypes.c_int * 4096)()

    def run(self, prompts: list[list[int]], output_tokens: int) -> list[list[int]]:
        """Launches every prompt, then collects until each has ended (`output_tokens` ids each)."""
        import time

        lib, model, buffer = self.lib, self.handle, self.buffer
        handles = []
        for prompt in prompts:
            ids = (ctypes.c_int * len(prompt))(*prompt)
            handles.append(
                lib.launch_response_llm_model(
                    model,
                    len(prompt),
                    ids,
                    output_tokens,
                    output_tokens,
                    False,
                    1.0,
                    1,
                    1.0,
                    1.0,
                    False,
                    0,
                    None,
                )
            )
        outputs: list[list[int]] = [[] for _ in prompts]
        live = set(range(len(prompts)))
        while live:
            progressed = False
            for i in list(live):
                if not lib.can_fetch_response_llm_model(model, handles[i]):
                    continue  # the fetches block (busy-wait) until a token exists
                count = lib.fetch_response_tokens_batch_llm_model(model, handles[i], buffer, len(buffer))
                if count < 0:
                    live.discard(i)
                elif count:
                    outputs[i].extend(buffer[:count])
                progressed |= count != 0
            if not progressed:
                time.sleep(self.POLL_SLEEP_S)
        return outputs

    def close(self) -> None:
        """Nothing of its own to free."""


def _drop_log(level, text, user_data) -> None:
    """llama.cpp's log callback that keeps nothing."""


_QUIET = None  # llama_log_callback(_drop_log), made once llama_cpp is imported (kept alive: C holds it)


# llama-bench's tg loop with a token chosen per sequence: no Python per step (a Python loop over ctypes costs
# ~microseconds a step, a visible share of a CPU step of ~0.1 ms on the tiny model). Written here, not
# llmbench's compiled loop: the bare path shares no code with the harness.
STEPS_SOURCE = r"""
#include <stdint.h>
typedef struct {
    int32_t n_tokens; int32_t *token; float *embd; int32_t *pos; int32_t *n_seq_id; int32_t **seq_id; int8_t *logits;
} llama_batch; /* llama.h's struct */
typedef int32_t (*decode_fn)(void *ctx, llama_batch batch);
typedef int32_t (*sample_fn)(void *chain, void *ctx, int32_t idx);

/* steps decode-only steps of k sequences at batch indices 0..k-1: decode, each one's id from its chain
   (ids[step * k + i]), the id and the next position into the batch. Returns the steps done. */
int32_t bare_steps(decode_fn decode, sample_fn sample, void *ctx, llama_batch *batch, void **chains,
                   int32_t k, int32_t steps, int32_t *ids)
{
    for (int32_t step = 0; step < steps; step++) {
        batch->n_tokens = k;
        if (decode(ctx, *batch) != 0)
            return step;
        for (int32_t i = 0; i < k; i++) {
            int32_t id = sample(chains[i], ctx, i);
            ids[step * k + i] = id;
            batch->token[i] = id;
            batch->pos[i] += 1;
        }
    }
    return steps;
}
"""
STEP_FUNCTIONS = ("llama_decode", "llama_sampler_sample")
_STEPS = None


def _compiled_steps():
    """`bare_steps` from STEPS_SOURCE compiled with cc (once a process, into a temporary folder)."""
    global _STEPS
    if _STEPS is None:
        folder = Path(tempfile.mkdtemp(prefix="bare-steps-"))
        try:
            (folder / "steps.c").write_text(STEPS_SOURCE)
            command = [
                "cc",
                "-O2",
                "-shared",
                "-fPIC",
                "-o",
                str(folder / "steps.so"),
                str(folder / "steps.c"),
            ]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"the bare loop's C steps did not compile ({done.stderr[-1000:]})")
            _STEPS = ctypes.CDLL(str(folder / "steps.so")).bare_steps  # stays loaded without its file
        except FileNotFoundError as error:
            raise RuntimeError(f"the bare loop's C steps need a C compiler, cc ({error})") from error
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        _STEPS.restype = ctypes.c_int32
        # decode, sample, ctx, batch, chains; k, steps; ids
        _STEPS.argtypes = [ctypes.c_void_p] * 5 + [ctypes.c_int32, ctypes.c_int32, ctypes.c_void_p]
    return _STEPS


class LlamaCppBare:
    """llama.cpp's own loop: a context of its own, `llama_decode`, a backend greedy sampler per sequence."""

    own_process_on = "cpu"  # see the module's docstring

    @classmethod
    def from_file(cls, path: str, settings: dict) -> LlamaCppBare:
        """Loads the GGUF file at `path` with llama.cpp's default model parameters (weights read, not
        mapped, as the engine loads them) on the CPU."""
        from llama_cpp import llama_cpp as lib

        global _QUIET
        _QUIET = _QUIET or lib.llama_log_callback(_drop_log)
        lib.llama_log_set(_QUIET, None)  # the parent's engine keeps llama.cpp's log; this one is the same
        lib.llama_backend_init()
        params = lib.llama_model_default_params()
        params.n_gpu_layers, params.use_mmap = 0, False
        model = lib.llama_model_load_from_file(path.encode(), params)
        if not model:
            raise RuntimeError(f"llama_model_load_from_file failed for {path}")
        return cls(model, settings)

    def __init__(self, model, settings: dict, slots: int = 1, context_tokens: int = 512):
        from llama_cpp import llama_cpp as lib

        self.lib, self.model = lib, model
        self.n_vocab = lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(model))
        self.steps = None if settings.get("steps_in") == "python" else _compiled_steps()
        self._decode, self._sample = (ctypes.cast(lib._lib[f], ctypes.c_void_p) for f in STEP_FUNCTIONS)
        self.settings, self.ctx, self.slots = settings, None, 0
        self._context(slots, context_tokens)

    def _chain(self):
        lib, masked = self.lib, [i for i in self.settings["eos_ids"] if 0 <= i < self.n_vocab]
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        if masked:
            lib.llama_sampler_chain_add(chain, self._mask(masked))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
        library = self.settings.get("ids_only_library")  # as the engine's: only the id leaves the graph
        if library and self.settings.get("sampler_in_graph", True):
            new = ctypes.CDLL(library).llmbench_ids_only_new
            new.restype, new.argtypes = lib.llama_sampler_p_ctypes, [ctypes.c_void_p]
            lib.llama_sampler_chain_add(chain, new(ctypes.cast(lib.llama_sampler_init, ctypes.c_void_p)))
        return chain

    def _mask(self, masked: list[int]):
        """A sampler setting `masked` to -inf: llmbench's compiled mask when settings name its file
        (`llmbench_mask_new(llama_sampler_init, ggml_fill, ggml_view_1d, ggml_set_1d_inplace, ids, n)`),
        else llama.cpp's logit bias."""
        lib, library = self.lib, self.settings.get("eos_mask_library")
        if not library:
            bias = (lib.llama_logit_bias * len(masked))(*[lib.llama_logit_bias(i, -math.inf) for i in masked])
            return lib.llama_sampler_init_logit_bias(self.n_vocab, len(masked), bias)
        new = ctypes.CDLL(library).llmbench_mask_new
        new.restype, new.argtypes = lib.llama_sampler_p_ctypes, [ctypes.c_void_p] * 5 + [ctypes.c_int32]
        ggml = [getattr(lib._lib, name) for name in ("ggml_fill", "ggml_view_1d", "ggml_set_1d_inplace")]
        pointers = [ctypes.cast(f, ctypes.c_void_p) for f in (lib.llama_sampler_init, *ggml)]
        return new(*pointers, (ctypes.c_int32 * len(masked))(*masked), len(masked))

    def _context(self, slots: int, context_tokens: int) -> None:
        lib, s = self.lib, self.settings
        self.close()
        self.chains = [self._chain() for _ in range(slots)]
        self._chain_pointers = (ctypes.c_void_p * slots)(
            *[ctypes.cast(c, ctypes.c_void_p) for c in self.chains]
        )
        self._configs = (lib.llama_sampler_seq_config * slots)(
            *[
                lib.llama_sampler_seq_config(i, ctypes.cast(chain, ctypes.c_void_p))
                for i, chain in enumerate(self.chains)
            ]
        )
        params = lib.llama_context_default_params()
        params.n_seq_max, params.kv_unified = slots, False
        params.n_ctx = params.n_batch = slots * context_tokens
        params.n_ubatch = min(512, params.n_ctx)
        params.n_threads = params.n_threads_batch = s["cpu_threads"]
        params.type_k = params.type_v = {"f32": 0, "f16": 1, "bf16": 30}[s["kv_type"]]
        params.flash_attn_type = {"auto": -1, "off": 0, "on": 1}[s["flash_attn"]]
        params.no_perf = True
        if s.get("sampler_in_graph", True):  # as the engine: in the graph on a GPU, on the host on the CPU
            params.samplers, params.n_samplers = self._configs, slots
        self.ctx = lib.llama_init_from_model(self.model, params)
        if not self.ctx:
            raise RuntimeError("llama_init_from_model failed")
        self.slots, self.context_tokens = slots, context_tokens
        self.batch = lib.llama_batch_init(params.n_batch, 0, 1)

    def run(self, prompts: list[list[int]], output_tokens: int) -> list[list[int]]:
        """All prompts as sequences of one batch: their prefills in one decode, then one token each per
        decode until each has `output_tokens`."""
        if output_tokens < 1:
            raise ValueError(f"output_tokens must be at least 1, not {output_tokens}")
        lib = self.lib
        need = len(prompts[0]) + output_tokens
        if len(prompts) > self.slots or need > self.context_tokens:
            self._context(max(len(prompts), self.slots), max(need, self.context_tokens))
        lib.llama_memory_clear(lib.llama_get_memory(self.ctx), True)
        batch, ctx, sample = self.batch, self.ctx, lib.llama_sampler_sample
        n = 0
        for seq, prompt in enumerate(prompts):
            for position, token in enumerate(prompt):
                self._add(n, token, position, seq, position == len(prompt) - 1)
                n += 1
        outputs: list[list[int]] = [[] for _ in prompts]
        last = [-1] * len(prompts)
        position, index = len(prompts[0]), 0
        for seq, prompt in enumerate(prompts):
            index += len(prompt)
            last[seq] = index - 1
        while True:
            batch.n_tokens = n
            if lib.llama_decode(ctx, batch) != 0:
                raise RuntimeError("llama_decode failed")
            for seq in range(len(prompts)):
                outputs[seq].append(sample(self.chains[seq], ctx, last[seq]))
            if len(outputs[0]) == output_tokens:
                return outputs
            for seq in range(len(prompts)):
                self._add(seq, outputs[seq][-1], position, seq, True)
                last[seq] = seq
            n, position = len(prompts), position + 1
            if self.steps is not None:  # the rest of the decode-only steps in C
                return self._steps_in_c(outputs, output_tokens - len(outputs[0]))

    def _steps_in_c(self, outputs: list[list[int]], steps: int) -> list[list[int]]:
        """`steps` decode-only steps of the sequences whose next token and position the batch holds (indices
        0..k-1), in the compiled loop: each sequence's new id appended to `outputs`."""
        k = len(outputs)
        ids = (ctypes.c_int32 * (steps * k))()  # sequence i's chain: the i-th of the context's (made once)
        done = self.steps(
            self._decode,
            self._sample,
            self.ctx,
            ctypes.byref(self.batch),
            self._chain_pointers,
            k,
            steps,
            ids,
        )
        if done != steps:
            raise RuntimeError(f"llama_decode failed at decode-only step {done + 1} of {steps}")
        for seq in range(k):
            outputs[seq].extend(ids[seq::k])
        return outputs

    def _add(self, i: int, token: int, position: int, seq: int, logits: bool) -> None:
        batch = self.batch
        batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, position, 1
        batch.seq_id[i][0], batch.logits[i] = seq, logits

    def close(self) -> None:
        """Frees its batch, context and sampler chains."""
        if self.ctx:
            self.lib.llama_batch_free(self.batch)
            self.lib.llama_free(self.ctx)
            self.ctx = None
            for chain in self.chains:
                self.lib.llama_sampler_free(chain)


class OwnProcess:
    """A bare path (BARE[name]) in a process of its own: `python bare_paths.py NAME FILE SETTINGS_JSON`,
    driven by JSON lines on its stdin. ``timed_run(prompts, n, batched) -> (seconds, ids)``: one
    pass, timed in that process (no pipe in the time): the prompts one after another, or as one
    batch; ``run(prompts, n)`` as the in-process classes' run. Raises RuntimeError when the process
    ended, or did not answer within `timeout_s` (it is killed then)."""

    def __init__(self, name: str, path: str, settings: dict, timeout_s: float = 600.0):
        self.settings = settings  # what the child was given
        self.timeout_s = timeout_s  # one pass, loading included the first time
        self.child = subprocess.Popen(
            [sys.executable, __file__, name, path, json.dumps(settings)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def timed_run(self, prompts: list[list[int]], output_tokens: int, batched: bool) -> tuple[float, list]:
        self.child.stdin.write(json.dumps([prompts, output_tokens, batched]) + "\n")
        self.child.stdin.flush()
        if not select.select([self.child.stdout], [], [], self.timeout_s)[0]:
            self.child.kill()
            raise RuntimeError(f"the bare path's process did not answer in {self.timeout_s:g} s (killed)")
        line = self.child.stdout.readline()
        if not line:
            raise RuntimeError(f"the bare path's process ended (status {self.child.wait()}); see its stderr")
        seconds, ids = json.loads(line)
        return seconds, ids

    def run(self, prompts: list[list[int]], output_tokens: int) -> list[list[int]]:
        return self.timed_run(prompts, output_tokens, True)[1]

    def close(self) -> None:
        """Ends the process (killed if it has not ended 60 s after its stdin closed)."""
        self.child.stdin.close()
        try:
            self.child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.child.kill()
            self.child.wait()


def serve(name: str, path: str, settings: dict) -> None:
    """OwnProcess's other end: loads BARE[name] from `path`, answers each [prompts, n, batched] line
    with [seconds, ids]."""
    bare = BARE[name].from_file(path, settings)
    for line in sys.stdin:
        prompts, n, batched = json.loads(line)
        started = time.perf_counter()
        ids = bare.run(prompts, n) if batched else [bare.run([p], n)[0] for p in prompts]
        print(json.dumps([time.perf_counter() - started, ids]), flush=True)
    bare.close()


BARE = {
    "hf": TransformersBare,
    "hf-compile": StaticCacheBare,
    "fastllm": FastLLMBare,
    "llamacpp": LlamaCppBare,
}


if __name__ == "__main__":
    # llama.cpp's native library before numpy (its CUDA build crashes otherwise)
    if sys.argv[1] == "llamacpp":
        import llama_cpp.llama_cpp  # noqa: F401
    serve(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
