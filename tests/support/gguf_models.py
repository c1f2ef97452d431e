"""Models, llama.cpp and transformers side by side, for the GGUF export tests."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
import torch

FP32_TOLERANCE = 1e-4
GREEDY_TOKENS = 32
GGML_F32 = 0


# --------------------------------------------------------------------------- llama.cpp


@pytest.fixture(scope="module")
def llama_cpp():
    """llama-cpp-python's low-level bindings, quiet: its log lines go to a list."""
    lib = pytest.importorskip(
        "llama_cpp.llama_cpp",
        reason="llama-cpp-python is not installed (pip install llama-cpp-python==0.3.36)",
    )
    lines: list[str] = []

    @lib.llama_log_callback
    def log(level, text, user_data):
        lines.append(text.decode("utf-8", "replace") if text else "")

    lib.llama_log_set(log, ctypes.c_void_p(0))
    lib.llama_backend_init()
    yield lib
    from llama_cpp import _logger  # the package's own callback again: ours is about to be freed

    lib.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))


class Runner:
    """One GGUF model in one llama.cpp context, on the CPU: fp32 KV cache and flash
    attention off (its CPU kernel rounds through float16), logits at every position."""

    def __init__(self, lib, path, kv_type: int = GGML_F32, n_ctx: int = 256):
        self.lib = lib
        params = lib.llama_model_default_params()
        params.n_gpu_layers = 0
        self.model = lib.llama_model_load_from_file(str(path).encode(), params)
        assert self.model, f"llama.cpp could not load {path}"
        ctx_params = lib.llama_context_default_params()
        ctx_params.n_ctx = ctx_params.n_batch = ctx_params.n_ubatch = n_ctx
        ctx_params.n_threads = ctx_params.n_threads_batch = 2
        ctx_params.type_k = ctx_params.type_v = kv_type
        ctx_params.flash_attn_type = 0
        ctx_params.n_outputs_max_per_seq = 0  # logits of every position, not only the last
        self.ctx = lib.llama_init_from_model(self.model, ctx_params)
        assert self.ctx
        self.vocab = lib.llama_model_get_vocab(self.model)
        self.n_vocab = lib.llama_vocab_n_tokens(self.vocab)
        self.batch = lib.llama_batch_init(n_ctx, 0, 1)

    def _decode(self, ids: list[int], start: int, all_logits: bool) -> None:
        batch = self.batch
        for i, token in enumerate(ids):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, start + i, 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = all_logits or i == len(ids) - 1
        batch.n_tokens = len(ids)
        assert self.lib.llama_decode(self.ctx, batch) == 0

    def _logits(self, rows: int) -> np.ndarray:
        return np.ctypeslib.as_array(self.lib.llama_get_logits(self.ctx), shape=(rows, self.n_vocab)).copy()

    def prompt_logits(self, ids: list[int]) -> np.ndarray:
        """[len(ids), vocab] logits of a fresh sequence."""
        self.lib.llama_memory_clear(self.lib.llama_get_memory(self.ctx), True)
        self._decode(ids, 0, all_logits=True)
        return self._logits(len(ids))

    def greedy(self, ids: list[int], n: int, masked: list[int]) -> list[int]:
        """n greedy tokens, `masked` ids never chosen (transformers' min_new_tokens)."""
        self.lib.llama_memory_clear(self.lib.llama_get_memory(self.ctx), True)
        self._decode(ids, 0, all_logits=False)
        output = []
        for step in range(n):
            logits = self._logits(1)[0]
            logits[masked] = -np.inf
            output.append(int(logits.argmax()))
            if step < n - 1:
                self._decode(output[-1:], len(ids) + step, all_logits=False)
        return output

    def eog_ids(self) -> list[int]:
        return [i for i in range(self.n_vocab) if self.lib.llama_vocab_is_eog(self.vocab, i)]

    def close(self) -> None:
        self.lib.llama_batch_free(self.batch)
        self.lib.llama_free(self.ctx)
        self.lib.llama_model_free(self.model)


# --------------------------------------------------------------------------- models


def _build(folder, preset_name: str):
    from llmbench.models.presets import get_preset
    from llmbench.models.synthetic import build_synthetic_model

    build_synthetic_model(folder, get_preset(preset_name), seed=0, dtype="float32")
    return folder


def _transformers_llama(folder, tie: bool):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=1000,
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=tie,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """name → (folder to export, folder transformers loads)."""
    root = tmp_path_factory.mktemp("gguf-models")
    from llmbench.models.prepare import transformers_folder

    tiny = _build(root / "tiny", "tiny")
    glm = _build(root / "chatglm2-tiny", "chatglm2-tiny")
    transformers_folder(glm, root / "chatglm2-tiny-glm")  # the GLM port: the reference for ChatGLM2
    llama = _transformers_llama(root / "hf-llama", tie=False)
    tied = _transformers_llama(root / "hf-llama-tied", tie=True)
    return {
        "tiny": (tiny, tiny),
        "chatglm2-tiny": (glm, root / "chatglm2-tiny-glm"),
        "hf-llama": (llama, llama),
        "hf-llama-tied": (tied, tied),
    }


def _prompts(name: str, vocab: int) -> list[list[int]]:
    rng = np.random.default_rng(0)
    prompts = [rng.integers(3, min(vocab, 64000), size=n).tolist() for n in (24, 41, 9)]
    if name.startswith("chatglm2"):  # as model.chat builds them: [gMASK] sop first
        prompts = [[64790, 64792, *p] for p in prompts]
    return prompts


def _reference(folder, dtype=torch.float32):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype).eval()


def _logits(model, ids: list[int]) -> np.ndarray:
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].float().numpy()


def _masked_greedy(model, ids: list[int], n: int) -> list[int]:
    with torch.no_grad():
        out = model.generate(
            torch.tensor([ids]), do_sample=False, max_new_tokens=n, min_new_tokens=n, pad_token_id=0
        )
    return out[0, len(ids) :].tolist()


def _eos(model) -> list[int]:
    eos = model.generation_config.eos_token_id
    return [eos] if isinstance(eos, int) else list(eos)


# --------------------------------------------------------------------------- tests
