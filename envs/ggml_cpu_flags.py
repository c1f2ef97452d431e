"""Print the CMake options that build llama-cpp-python's CPU kernels for this machine.

Usage: ``python envs/ggml_cpu_flags.py [/proc/cpuinfo]`` prints one line of ``-D`` options
(nothing off x86-64 Linux, where llama.cpp's own ``GGML_NATIVE`` default is kept).

Why not ``GGML_NATIVE=ON`` (llama.cpp's default, ``-march=native``): the compiler reads the
CPU's CPUID, which under some hypervisors advertises AMX and AVX512-FP16 that the guest kernel
does not enable. llama.cpp built that way died with SIGILL ("Illegal instruction") in its
Q8_0/Q4_0 kernels on our CI and dev VMs (2026-12-05). The kernel's own list of usable
features, the ``flags`` line of ``/proc/cpuinfo``, is what this build follows instead; AMX is
always left off (its tiles also need a per-process permission that VMs often refuse).

Option names and defaults: ``vendor/llama.cpp/ggml/CMakeLists.txt`` of llama-cpp-python 0.3.36.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: ggml option -> the /proc/cpuinfo flags that must all be present to turn it on.
GGML_OPTION_FLAGS: dict[str, tuple[str, ...]] = {
    "GGML_SSE42": ("sse4_2",),
    "GGML_AVX": ("avx",),
    "GGML_AVX2": ("avx2",),
    "GGML_FMA": ("fma",),
    "GGML_F16C": ("f16c",),
    "GGML_BMI2": ("bmi2",),
    "GGML_AVX_VNNI": ("avx_vnni",),
    # ggml's GGML_AVX512 adds -mavx512f -mavx512cd -mavx512vl -mavx512dq -mavx512bw.
    "GGML_AVX512": ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"),
    "GGML_AVX512_VBMI": ("avx512vbmi",),
    "GGML_AVX512_VNNI": ("avx512_vnni",),
    "GGML_AVX512_BF16": ("avx512_bf16",),
}

#: Options never turned on, whatever the CPU says (see the module docstring).
GGML_OPTIONS_OFF: tuple[str, ...] = ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")


def cpu_flags(cpuinfo_text: str) -> frozenset[str] | None:
    """The feature flags of the first processor in a ``/proc/cpuinfo`` text.

    Returns None when the text has no x86 ``flags`` line (ARM's says ``Features``).
    """
    for line in cpuinfo_text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "flags":
            return frozenset(value.split())
    return None


def cmake_options(flags: frozenset[str] | None) -> list[str]:
    """``-DNAME=ON|OFF`` options for an x86 CPU with these flags; [] when flags is None."""
    if flags is None:
        return []
    options = ["-DGGML_NATIVE=OFF"]
    for option, needed in GGML_OPTION_FLAGS.items():
        on = all(flag in flags for flag in needed)
        options.append(f"-D{option}={'ON' if on else 'OFF'}")
    options += [f"-D{option}=OFF" for option in GGML_OPTIONS_OFF]
    return options


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "/proc/cpuinfo")
    text = path.read_text() if path.exists() else ""
    print(" ".join(cmake_options(cpu_flags(text))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
