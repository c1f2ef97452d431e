"""HuggingFace transformers, eager: `generate()` as users call it."""

from __future__ import annotations

from .base import Backend, BackendUnavailable, Generation, now


def prompt_length(prompts: list[list[int]]) -> int:
    """The common length of a batch's prompts; unpadded batches need equal lengths."""
    if len({len(p) for p in prompts}) != 1:
        raise ValueError(
            "batched prompts must have equal length (the fixed and sweep scenarios make them so)"
        )
    return len(prompts[0])


class _TokenClock:
    """A generate() streamer that stamps each new token once it is on the host."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._prompt_seen = False

    def put(self, value) -> None:
        if not self._prompt_seen:  # generate() first hands over the prompt
            self._prompt_seen = True
            return
        value.tolist()  # waits for the device, so the stamp is when the token exists
        self.times.append(now())

    def end(self) -> None:
        pass


class HFBackend(Backend):
    artifact_kind = "hf"
    packages = ("torch", "transformers")

    def import_libraries(self) -> None:
        import torch
        import transformers

        self._torch, self._transformers = torch, transformers

    def load(self) -> None:
        torch = self._torch
        s = self.settings
        if s.device == "cuda" and not torch.cuda.is_available():
            raise BackendUnavailable("device cuda asked for, but torch sees no CUDA device")
        torch.set_num_threads(s.cpu_threads)
        self.model = self._from_pretrained(getattr(torch, s.dtype)).to(s.device).eval()
        self.model.generation_config.pad_token_id = self.model.config.pad_token_id
        if s.device == "cuda":
            torch.cuda.synchronize()

    def _from_pretrained(self, dtype):
        return self._transformers.AutoModelForCausalLM.from_pretrained(self.settings.artifact, dtype=dtype)

    def generate(self, prompt_ids: list[int], output_tokens: int) -> Generation:
        return self.generate_batch([prompt_ids], output_tokens)[0]

    def generate_batch(self, prompts: list[list[int]], output_tokens: int) -> list[Generation]:
        """True batching: one generate() over a [batch, length] tensor (equal-length prompts)."""
        prompt_length(prompts)
        torch = self._torch
        clock = _TokenClock()
        start = now()
        inputs = torch.tensor(prompts, device=self.settings.device)
        with torch.inference_mode():
            output = self.model.generate(
                inputs,
                attention_mask=torch.ones_like(inputs),
                do_sample=False,
                max_new_tokens=output_tokens,
                min_new_tokens=output_tokens,  # masks EOS until the length is reached
                streamer=clock,
            )
        new_ids = output[:, len(prompts[0]) :].tolist()
        end = now()
        # Every sequence of a batch gets its tokens at the same steps.
        return [Generation(ids, start, clock.times, end) for ids in new_ids]

    def describe(self) -> dict:
        torch = self._torch
        info = {
            "torch_threads": torch.get_num_threads(),
            "attn_implementation": self.model.config._attn_implementation,
        }
        if self.settings.device == "cuda":
            info["cuda_device"] = torch.cuda.get_device_name()
            info["cuda_runtime"] = torch.version.cuda
        return info

    def memory(self) -> dict:
        torch = self._torch
        if self.settings.device != "cuda":
            return {}
        return {
            "torch_allocated_bytes": torch.cuda.memory_allocated(),
            "torch_max_allocated_bytes": torch.cuda.max_memory_allocated(),
            "torch_max_reserved_bytes": torch.cuda.max_memory_reserved(),
        }


BACKEND = HFBackend
