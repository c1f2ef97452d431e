"""Facts a backend reports about its own figures: where its weights are (the bytes it holds on the
device, and how that is known) and which clock stamps its tokens.

Parameter bytes say what the checkpoint weighs, not what a backend put on the GPU:
llama.cpp keeps the input embedding on the host (its log on the H200: `CUDA0 model
buffer size = 11401.38 MiB`, `CUDA_Host model buffer size = 508.00 MiB`). A backend
that can say where its weights are reports it in `describe()` under these keys; a
record without them falls back to what its own facts show, else to parameter bytes,
and the memory table names the source.
"""

from __future__ import annotations

import re

WEIGHTS_BYTES_KEY = "weights_on_device_bytes"
WEIGHTS_SOURCE_KEY = "weights_on_device_source"
HOST_WEIGHTS_BYTES_KEY = "weights_on_host_bytes"
# Sources, printed through the report's strings (`weights_sources.<source>`).
SOURCE_TORCH = "torch_parameters"  # torch: bytes of the parameters and buffers on a CUDA device
SOURCE_BUFFERS = "model_buffers"  # the library's own log: its device model buffers
SOURCE_PARAMETERS = "parameter_bytes"  # nothing reported: every parameter assumed on the device
# The backend reports it now, but the code that wrote the record did not: parameter bytes, as above.
SOURCE_NOT_RECORDED = "not_recorded"

_MODEL_BUFFER = re.compile(r"(\S+)\s+model buffer size\s*=\s*([0-9.]+)\s*MiB")
_MIB = 2**20


def model_buffer_bytes(lines: list[str]) -> dict[str, int]:
    """Buffer name (`CUDA0`, `CUDA_Host`, `CPU_Mapped`) -> bytes, from lines of llama.cpp's
    log such as `load_tensors:        CUDA0 model buffer size = 11401.38 MiB`; {} if none."""
    sizes: dict[str, int] = {}
    for line in lines:
        if match := _MODEL_BUFFER.search(line):
            sizes[match.group(1)] = sizes.get(match.group(1), 0) + round(float(match.group(2)) * _MIB)
    return sizes


def is_device_buffer(name: str) -> bool:
    """A buffer on the GPU: `CUDA0`, `CUDA1`, ... (not `CUDA_Host`, `CPU`, `CPU_Mapped`)."""
    return re.fullmatch(r"(CUDA|ROCm|Vulkan|Metal)\d*", name) is not None


def from_buffer_log(lines: list[str]) -> dict:
    """The placement keys from model-buffer log lines ({} when the lines hold no model buffer):
    device bytes = the GPU buffers, host bytes = the others."""
    sizes = model_buffer_bytes(lines)
    if not sizes:
        return {}
    device = sum(b for name, b in sizes.items() if is_device_buffer(name))
    return {
        WEIGHTS_BYTES_KEY: device,
        HOST_WEIGHTS_BYTES_KEY: sum(sizes.values()) - device,
        WEIGHTS_SOURCE_KEY: SOURCE_BUFFERS,
    }


def reported(backend_info: dict) -> dict:
    """The placement a record's backend facts show: its own keys, else model buffers in its log
    lines (`buffers`, records written before the keys existed); {} when they show none."""
    if backend_info.get(WEIGHTS_BYTES_KEY) is not None:
        return {
            k: backend_info.get(k) for k in (WEIGHTS_BYTES_KEY, HOST_WEIGHTS_BYTES_KEY, WEIGHTS_SOURCE_KEY)
        }
    return from_buffer_log(list(backend_info.get("buffers") or []))


# A backend whose token stamps are device times (CUDA events: the step done on the GPU), not the
# moment the caller could read the token, says so in describe() under this key (True).
DEVICE_CLOCK_KEY = "token_clock_device"


def device_clock(backend_info: dict) -> bool:
    """Whether a record's token stamps are device times: the backend's own key, else (records
    written before it existed) hf-compile's `token_clock` fact naming CUDA events."""
    if DEVICE_CLOCK_KEY in backend_info:
        return bool(backend_info[DEVICE_CLOCK_KEY])
    return "CUDA events" in str(backend_info.get("token_clock") or "")
