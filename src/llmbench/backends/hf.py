"""HuggingFace transformers, eager: `generate()` as users call it.

Decoding is neutral greedy: a fresh GenerationConfig, so nothing of the
checkpoint's generation_config.json (repetition_penalty, no_repeat_ngram_size,
suppress_tokens, ...) applies; what it would have set is recorded in
`describe()` and named in the report.
"""

from __future__ import annotations

from ..clock import now
from ..record import placement
from .base import Backend, BackendUnavailable, Generation

# Keys of a generation_config that change which token greedy decoding picks.
DECODING_KEYS = (
    "repetition_penalty",
    "no_repeat_ngram_size",
    "encoder_no_repeat_ngram_size",
    "bad_words_ids",
    "suppress_tokens",
    "begin_suppress_tokens",
    "forced_bos_token_id",
    "forced_eos_token_id",
    "sequence_bias",
    "exponential_decay_length_penalty",
    "do_sample",
    "num_beams",
    "temperature",
    "top_k",
    "top_p",
    "min_p",
    "typical_p",
    "epsilon_cutoff",
    "eta_cutoff",
)


def prompt_length(prompts: list[list[int]]) -> int:
    """The common length of a batch's prompts; unpadded batches need equal lengths."""
    if len({len(p) for p in prompts}) != 1:
        raise ValueError(
            "batched prompts must have equal length (the fixed and sweep scenarios make them so)"
        )
    return len(prompts[0])


def eos_ids(model) -> list[int]:
    """Every EOS id the model's config or generation_config names (all are masked)."""
    ids: set[int] = set()
    for value in (model.generation_config.eos_token_id, model.config.eos_token_id):
        if value is not None:
            ids.update([value] if isinstance(value, int) else value)
    return sorted(ids)


def checkpoint_decoding(generation_config) -> dict:
    """What the checkpoint's generation_config would change about greedy decoding."""
    from transformers import GenerationConfig

    default = GenerationConfig()
    return {
        key: getattr(generation_config, key)
        for key in DECODING_KEYS
        if getattr(generation_config, key, None) != getattr(default, key, None)
    }


class _TokenClock:
    """A generate() streamer that stamps each new token once it is on the host. generate() hands
    over `tokens.cpu()`, a copy that already waited for the device: the stamp needs no wait of
    its own (a `tolist()` here cost a Python call per token and waited for nothing)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._prompt_seen = False

    def put(self, value) -> None:
        if self._prompt_seen:
            self.times.append(now())
        else:  # generate() first hands over the prompt
            self._prompt_seen = True

    def end(self) -> None:
        pass


def _torchao(config_name: str, **kwargs):
    def build(transformers, torch, dtype):
        import torchao.quantization as ao
        from torchao.quantization.granularity import PerAxis

        values = {k: (PerAxis(0) if v == "per_row" else getattr(torch, v)) for k, v in kwargs.items()}
        return transformers.TorchAoConfig(getattr(ao, config_name)(**values))

    return build


# models.precision's transformers formats -> their quantization config (transformers, torch, dtype).
QUANTIZATION = {
    "torchao-int8": _torchao("Int8WeightOnlyConfig"),
    "torchao-int4": _torchao("IntxWeightOnlyConfig", weight_dtype="int4", granularity="per_row"),
    "bnb-int8": lambda transformers, torch, dtype: transformers.BitsAndBytesConfig(load_in_8bit=True),
    "bnb-nf4": lambda transformers, torch, dtype: transformers.BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype
    ),
}


class HFBackend(Backend):
    """transformers eager: `model.generate()` with a fresh greedy GenerationConfig."""

    artifact_kind = "hf"
    packages = ("torch", "transformers", "torchao")
    gives_logits = True
    reports_placement = True  # torch's CUDA parameters
    concurrency_means = {"concurrent": "interleaved_generate", "batch": "one_generate"}

    def import_libraries(self) -> None:
        """Imports torch and transformers."""
        import torch
        import transformers

        self._torch, self._transformers = torch, transformers

    def load(self) -> None:
        """Loads the folder with AutoModelForCausalLM (straight onto the GPU on cuda) and replaces its
        generation_config; raises BackendUnavailable when cuda is asked and torch sees no CUDA device."""
        torch = self._torch
        s = self.settings
        if s.device == "cuda" and not torch.cuda.is_available():
            raise BackendUnavailable("device cuda asked for, but torch sees no CUDA device")
        torch.set_num_threads(s.cpu_threads)
        self.model = self._from_pretrained(getattr(torch, s.dtype))
        if s.weights is None or s.device == "cpu":  # quantized on cuda: placed by device_map already
            self.model = self.model.to(s.device)
        self.model.eval()
        self.eos_ids = eos_ids(self.model)
        self.ignored_decoding = checkpoint_decoding(self.model.generation_config)
        # generate() fills every setting left unset from the model's generation_config:
        # replace it, so that nothing of the checkpoint's decoding applies.
        self.model.generation_config = self._transformers.GenerationConfig(
            eos_token_id=self.eos_ids or None,
            pad_token_id=self.model.config.pad_token_id,
            bos_token_id=self.model.generation_config.bos_token_id,
        )
        if s.device == "cuda":
            torch.cuda.synchronize()

    def _from_pretrained(self, dtype):
        # Straight onto the GPU: no second copy of the weights through host memory.
        placement = {"device_map": self.settings.device} if self.settings.device == "cuda" else {}
        if self.settings.weights:  # quantized as it loads, by the method's transformers config
            build = QUANTIZATION[self.settings.weights]
            placement["quantization_config"] = build(self._transformers, self._torch, dtype)
        return self._transformers.AutoModelForCausalLM.from_pretrained(
            self.settings.artifact, dtype=dtype, **placement
        )

    def teacher_forced_logits(self, ids: list[int]):
        """One forward pass over `ids`: the logits after every prefix, float32 numpy on the host."""
        torch = self._torch
        with torch.inference_mode():
            logits = self.model(torch.tensor([ids], device=self.settings.device)).logits[0]
        return logits.float().cpu().numpy()

    def _generation_config(self, output_tokens: int):
        """Neutral greedy with EOS masked until exactly `output_tokens` (min_new_tokens)."""
        return self._transformers.GenerationConfig(
            do_sample=False,
            num_beams=1,
            max_new_tokens=output_tokens,
            min_new_tokens=output_tokens,
            eos_token_id=self.eos_ids or None,
            pad_token_id=self.model.config.pad_token_id,
        )

    def _generate(self, prompts: list[list[int]], output_tokens: int, streamer=None):
        torch = self._torch
        inputs = torch.tensor(prompts, device=self.settings.device)
        with torch.inference_mode():
            output = self.model.generate(
                inputs,
                attention_mask=torch.ones_like(inputs),
                generation_config=self._generation_config(output_tokens),
                streamer=streamer,
            )
        return output[:, len(prompts[0]) :].tolist()

    def generate(self, prompt_ids: list[int], output_tokens: int) -> Generation:
        """A batch of one through generate_batch."""
        return self.generate_batch([prompt_ids], output_tokens)[0]

    def generate_batch(self, prompts: list[list[int]], output_tokens: int) -> list[Generation]:
        """True batching: one generate() over a [batch, length] tensor (equal-length prompts)."""
        prompt_length(prompts)
        clock = _TokenClock()
        start = now()
        new_ids = self._generate(prompts, output_tokens, clock)
        end = now()
        # Every sequence of a batch gets its tokens at the same steps.
        return [Generation(ids, start, clock.times, end) for ids in new_ids]

    def bare_generate(self, prompt_ids: list[int], output_tokens: int) -> list[int]:
        """`model.generate()` without the token-stamping streamer."""
        return self._generate([prompt_ids], output_tokens)[0]

    def describe(self) -> dict:
        """torch threads, attention implementation, decoding, what of the checkpoint's generation_config
        was not applied and, on cuda, the device name, CUDA runtime and the bytes of the parameters on
        the GPU and on the host (placement keys of record.placement)."""
        torch = self._torch
        info = {
            "torch_threads": torch.get_num_threads(),
            "attn_implementation": self.model.config._attn_implementation,
            "decoding": "greedy, EOS masked, checkpoint generation_config not applied",
        }
        if self.ignored_decoding:
            info["checkpoint_generation_config_not_applied"] = self.ignored_decoding
        if self.settings.device == "cuda":
            info["cuda_device"] = torch.cuda.get_device_name()
            info["cuda_runtime"] = torch.version.cuda
            info |= self._placement()
        return info

    def _placement(self) -> dict:
        """Parameter bytes on a CUDA device and elsewhere (each shared parameter once)."""
        on_device = on_host = 0
        for parameter in self.model.parameters():
            size = parameter.numel() * parameter.element_size()
            if parameter.is_cuda:
                on_device += size
            else:
                on_host += size
        return {
            placement.WEIGHTS_BYTES_KEY: on_device,
            placement.HOST_WEIGHTS_BYTES_KEY: on_host,
            placement.WEIGHTS_SOURCE_KEY: placement.SOURCE_TORCH,
        }

    def memory(self) -> dict:
        """torch's allocated, peak allocated and peak reserved CUDA memory in bytes; empty on the CPU."""
        torch = self._torch
        if self.settings.device != "cuda":
            return {}
        return {
            "torch_allocated_bytes": torch.cuda.memory_allocated(),
            "torch_max_allocated_bytes": torch.cuda.max_memory_allocated(),
            "torch_max_reserved_bytes": torch.cuda.max_memory_reserved(),
        }

    def reset_peak_memory(self) -> None:
        """Resets torch's CUDA peak-memory stats; nothing on the CPU."""
        if self.settings.device == "cuda":
            self._torch.cuda.reset_peak_memory_stats()


BACKEND = HFBackend
