"""FastLLM conversion: HF folder -> one .flm file, in a process that does nothing else.

ftllm segfaults when saving after any inference and exits 0 after printing
errors, so the conversion runs in a child process whose output is checked,
not its exit status.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..child import child_io, module_command


class ConversionError(RuntimeError):
    """FastLLM conversion failed: the child timed out, or wrote no .flm file."""

    pass


def convert_to_flm(
    model_dir: str | Path, output: str | Path, dtype: str, timeout_s: float, log: str | Path
) -> None:
    """Convert the HF folder `model_dir` to the .flm file `output` in `dtype`, in a child process
    whose output is appended to `log`; `output` appears only complete. Raises ConversionError
    when the child runs past `timeout_s` seconds, exits non-zero or leaves no or an empty file."""
    output = Path(output)
    partial = output.with_name(output.name + ".partial")
    partial.unlink(missing_ok=True)
    with open(log, "ab") as log_file:
        try:
            child = subprocess.run(
                [*module_command("llmbench.models.flm_export"), str(model_dir), str(partial), dtype],
                **child_io(log_file),
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            partial.unlink(missing_ok=True)
            raise ConversionError(
                f"FastLLM conversion of {model_dir} timed out after {timeout_s:g} s"
            ) from None
    if child.returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
        partial.unlink(missing_ok=True)
        raise ConversionError(
            f"FastLLM conversion of {model_dir} to {dtype} wrote no .flm file "
            f"(exit status {child.returncode}); see {log}"
        )
    os.replace(partial, output)


def _convert_here(model_dir: str, output: str, dtype: str) -> None:
    from ftllm import llm

    print(f"ftllm library: {os.path.basename(llm.fastllm_lib._name)}", flush=True)
    llm.set_device_map("cpu")  # converting needs no GPU memory
    model = llm.model(model_dir, dtype=dtype)
    model.save(output)
    sys.stdout.flush()
    os._exit(0)  # a process that loaded ftllm may not exit by itself


if __name__ == "__main__":
    _convert_here(*sys.argv[1:])
