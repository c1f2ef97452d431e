"""envs/ggml_cpu_flags.py: llama.cpp's CPU build follows the kernel's feature list, never AMX."""

import importlib.util
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "envs" / "ggml_cpu_flags.py"
_spec = importlib.util.spec_from_file_location("ggml_cpu_flags", SCRIPT)
flags_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(flags_module)

KNOWN = sorted({f for need in flags_module.GGML_OPTION_FLAGS.values() for f in need})
# Flags a CPUID may advertise beyond what the kernel enables (the SIGILL of 2026-12-05).
EXTRA = ["amx_tile", "amx_int8", "amx_bf16", "avx512_fp16", "sse", "sse2", "fpu", "hypervisor"]
flag_sets = st.frozensets(st.sampled_from(KNOWN + EXTRA))


def cpuinfo(flags) -> str:
    line = "flags\t\t: " + " ".join(sorted(flags))
    return (
        f"processor\t: 0\nvendor_id\t: GenuineIntel\n{line}\nbugs\t\t: spectre_v1\n\nprocessor\t: 1\n{line}\n"
    )


def parsed(options: list[str]) -> dict[str, str]:
    return dict(o.removeprefix("-D").split("=") for o in options)


@given(flag_sets)
def test_an_option_is_on_exactly_when_the_kernel_lists_all_its_flags(flags):
    options = parsed(flags_module.cmake_options(flags_module.cpu_flags(cpuinfo(flags))))
    assert options.pop("GGML_NATIVE") == "OFF"
    for name, needed in flags_module.GGML_OPTION_FLAGS.items():
        assert options.pop(name) == ("ON" if set(needed) <= flags else "OFF"), name
    # What is left is AMX, and it is off whatever the CPU says.
    assert options == {name: "OFF" for name in ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")}


def test_avx512_needs_every_subset_ggml_compiles_with():
    flags = frozenset(["avx512f", "avx512cd", "avx512vl", "avx512dq"])  # no avx512bw
    assert "-DGGML_AVX512=OFF" in flags_module.cmake_options(flags)
    assert "-DGGML_AVX512=ON" in flags_module.cmake_options(flags | {"avx512bw"})


@given(st.text(alphabet=st.characters(blacklist_characters=":"), max_size=200))
def test_text_without_a_flags_line_keeps_llama_cpps_default(text):
    assert flags_module.cpu_flags("Features\t: fp asimd\n" + text) is None
    assert flags_module.cmake_options(None) == []


def test_the_script_prints_one_line_for_a_cpuinfo_file_and_nothing_without_one(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text(cpuinfo({"avx", "avx2", "amx_int8"}))
    run = [sys.executable, str(SCRIPT)]
    out = subprocess.run([*run, str(info)], capture_output=True, text=True, check=True).stdout
    assert out.count("\n") == 1 and "-DGGML_AVX2=ON" in out and "-DGGML_AMX_INT8=OFF" in out
    missing = subprocess.run([*run, str(tmp_path / "none")], capture_output=True, text=True, check=True)
    assert missing.stdout.strip() == ""


def test_the_makefile_builds_llama_cpp_python_with_these_options_and_no_cached_wheel():
    recipe = (ROOT / "Makefile").read_text()
    assert "envs/ggml_cpu_flags.py" in recipe.split("$(INSTALLED):")[0]
    install = next(line for line in recipe.splitlines() if "LLAMA_CPP_CMAKE_ARGS)" in line and "pip" in line)
    assert "--no-cache-dir" in install
