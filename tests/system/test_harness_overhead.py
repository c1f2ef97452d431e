"""benchmarks/harness_overhead.py: what it must do before it measures anything."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "argv",
    [
        ["--backend", "llamacpp"],
        ["--backend", "all", "--backend", "llamacpp"],
        ["--backend=llamacpp"],
        ["--back", "llamacpp"],
    ],
)
def test_the_backend_it_measures_loads_its_native_libraries_before_numpy(tmp_path, argv, llama_cpp_witness):
    """llama.cpp's CUDA build crashed the benchmark on the H200 with numpy loaded first (the
    worker already loaded it first). The last --backend counts: `all` hands it to each child."""
    site, witness = llama_cpp_witness
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks/harness_overhead.py"),
            *argv,
            "--model",
            str(tmp_path / "missing"),
        ],
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0 and "missing" in run.stderr  # no model there; what matters is the order
    assert witness.read_text() == "False"


def test_an_unknown_backend_is_a_usage_error_naming_the_known_ones():
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/harness_overhead.py"), "--backend", "nosuch"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "invalid choice: 'nosuch'" in run.stderr and "llamacpp" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.fixture(scope="module")
def eos_first_model(tiny_model, tmp_path_factory):
    """The tiny model with its EOS id set to the first greedy token of PROMPTS[0]: a path that does
    not mask EOS stops early or differs."""
    import json
    import shutil

    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    first = int(model(torch_tensor([PROMPTS[0]])).logits[0, -1].argmax())
    folder = tmp_path_factory.mktemp("eos") / "tiny"
    shutil.copytree(tiny_model, folder)
    for name in ("config.json", "generation_config.json"):
        config = json.loads((folder / name).read_text())
        (folder / name).write_text(json.dumps({**config, "eos_token_id": first}))
    return folder, first


def torch_tensor(rows):
    import torch

    return torch.tensor(rows)


PROMPTS = [[5 + i, 6, 7, 8, 9, 10] for i in range(3)]


# FastLLM masks the EOS its .flm names (converted from the unchanged tiny model), not the folder's.
@pytest.mark.parametrize(
    ("backend", "masks_folder_eos"),
    [("hf", True), ("hf-compile", True), ("fastllm", False), ("llamacpp", True)],
)
def test_each_bare_path_generates_what_llmbench_generates_alone_and_batched(
    backend, masks_folder_eos, eos_first_model, tiny_model, tiny_flm, tiny_gguf
):
    """The bare paths share no code with llmbench, so the overhead benchmark compares like with like
    only if they do the same work: the same ids, exact lengths, EOS masked, one at a time and as one
    batch."""
    import argparse

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import harness_overhead

    folder, eos = eos_first_model
    n = 12
    args = argparse.Namespace(
        backend=backend,
        model=str(folder),
        artifact=str(tiny_flm),
        gguf=str(tiny_gguf),
        device="cpu",
        dtype="float32",
        input_tokens=len(PROMPTS[0]),
        output_tokens=n,
    )
    harness, bare, *_ = harness_overhead.load(args)
    expected = [harness.generate(p, n).output_ids for p in PROMPTS]
    assert all(len(ids) == n and (eos not in ids or not masks_folder_eos) for ids in expected)
    assert [bare.run([p], n)[0] for p in PROMPTS] == expected
    assert bare.run(PROMPTS, n) == [g.output_ids for g in harness.generate_batch(PROMPTS, n)]
    bare.close()
