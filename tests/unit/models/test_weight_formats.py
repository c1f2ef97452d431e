"""The weights table and llama.cpp's quantizer on the tiny model's GGUF (the real library)."""

import pytest

from llmbench.backends import available, get_backend
from llmbench.models.gguf_quantize import quantize_gguf, stored_facts
from llmbench.models.precision import FORMATS, bits_per_weight, formats_of, weight_format


def test_every_conversion_in_the_table_is_a_backends_artifact():
    kinds = {get_backend(name).artifact_kind for name in available()}
    assert set(FORMATS) <= kinds


def test_llamacpp_codes_are_llama_cpps_own_ftypes():
    from llama_cpp import llama_cpp as lib

    for name, fmt in formats_of("llamacpp").items():
        assert getattr(lib, f"LLAMA_FTYPE_MOSTLY_{name}") == fmt.code, name


def test_an_unknown_format_names_the_known_ones():
    with pytest.raises(KeyError, match="known: int8, int4"):
        weight_format("fastllm", "Q4_0")
    assert bits_per_weight("fastllm", None, "float16") == 16.0
    assert bits_per_weight("llamacpp", "Q4_0", "float32") == 4.5


@pytest.mark.parametrize(("weights", "stored"), [("Q8_0", "Q8_0"), ("Q4_0", "Q4_0")])
def test_the_quantizer_writes_the_type_asked_with_its_block_bits(tiny_gguf, tmp_path, weights, stored):
    out = tmp_path / f"q-{weights}.gguf"
    facts = quantize_gguf(tiny_gguf, out, weights, threads=1)
    assert not out.with_name(out.name + ".partial").exists()
    assert stored in facts["tensor_types"]
    assert facts == stored_facts(out)
    assert out.stat().st_size < tiny_gguf.stat().st_size / 3
    # 32-value blocks fit the tiny model's rows: the matrices are stored at the type's rate
    # (embeddings and output may stay wider), never above 32 bits and below the float32 file.
    assert weight_format("llamacpp", weights).bits_per_weight <= facts["matrix_bits_per_weight"] < 32


def test_every_transformers_format_has_its_quantization_config():
    from llmbench.backends.hf import QUANTIZATION

    assert set(QUANTIZATION) == set(formats_of("hf"))


def _loaded(name, artifact, model_dir, weights):
    from llmbench.backends import get_backend, make_options
    from llmbench.backends.base import LoadSettings

    backend = get_backend(name)(
        LoadSettings(
            model_dir=str(model_dir),
            artifact=str(artifact),
            device="cpu",
            dtype="float32",
            cpu_threads=1,
            options=make_options(name, {}),
            weights=weights,
        )
    )
    backend.import_libraries()
    backend.load()
    return backend


@pytest.mark.parametrize("weights", [None, "torchao-int8", "torchao-int4"])
def test_transformers_on_quantized_weights_teacher_forces_its_own_greedy_tokens(tiny_model, weights):
    """Its logits are those it generates from: the argmax after each prefix (EOS masked) is its
    own next token; int4 moves logits further from float32 than int8, int8 more than none."""
    import numpy as np

    backend = _loaded("hf", tiny_model, tiny_model, weights)
    prompt = [1, 5, 9, 33, 100, 7]
    output = backend.generate(prompt, 8).output_ids
    logits = backend.teacher_forced_logits(prompt + output)
    assert logits.shape == (len(prompt) + len(output), 2048)
    window = logits[len(prompt) - 1 : -1].copy()
    window[:, backend.eos_ids] = -np.inf
    assert window.argmax(axis=1).tolist() == output
    reference = _loaded("hf", tiny_model, tiny_model, None).teacher_forced_logits(prompt + output)
    error = float(np.abs(logits - reference).max())
    assert (error == 0) if weights is None else (0 < error < 1)


@pytest.mark.parametrize("weights", ["Q8_0", "Q4_0"])
def test_llamacpp_teacher_forced_logits_reproduce_its_greedy_tokens(tiny_model, tiny_gguf, tmp_path, weights):
    import numpy as np

    quantized = tmp_path / f"{weights}.gguf"
    quantize_gguf(tiny_gguf, quantized, weights, threads=1)
    backend = _loaded("llamacpp", quantized, tiny_model, weights)
    try:
        prompt = [1, 5, 9, 33, 100, 7]
        output = backend.generate(prompt, 8).output_ids
        logits = backend.teacher_forced_logits(prompt + output)
        window = logits[len(prompt) - 1 : -1].copy()
        window[:, backend.masked] = -np.inf
        assert window.argmax(axis=1).tolist() == output
    finally:
        backend.close()
