import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# Fixtures of the GGUF tests (models exported and their llama.cpp runner), shared by two test modules.
pytest_plugins = ["gguf_models"]

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "support"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """The `tiny` synthetic model, built once per test session (real builder)."""
    from llmbench.models.presets import get_preset
    from llmbench.models.synthetic import build_synthetic_model

    folder = tmp_path_factory.mktemp("models") / "tiny"
    build_synthetic_model(folder, get_preset("tiny"), seed=0, dtype="float32")
    return folder


@pytest.fixture(scope="session")
def chatglm2_tiny(tmp_path_factory) -> Path:
    """A random checkpoint in ChatGLM2's own format (config keys, tensor names, ids)."""
    from llmbench.models.presets import get_preset
    from llmbench.models.synthetic import build_synthetic_model

    folder = tmp_path_factory.mktemp("models") / "chatglm2-tiny"
    build_synthetic_model(folder, get_preset("chatglm2-tiny"), seed=0, dtype="float32")
    return folder


@pytest.fixture(scope="session")
def tiny_flm(tiny_model, tmp_path_factory) -> Path:
    """The tiny model converted for FastLLM (in its own process, as the rule does)."""
    from llmbench.models.flm_export import convert_to_flm

    folder = tmp_path_factory.mktemp("flm")
    output = folder / "fastllm-float32.flm"
    convert_to_flm(tiny_model, output, "float32", timeout_s=300, log=folder / "convert.log")
    return output


@pytest.fixture(scope="session")
def tiny_gguf(tiny_model, tmp_path_factory) -> Path:
    """The tiny model as llama.cpp's GGUF."""
    from llmbench.models.gguf_export import export_gguf

    path = tmp_path_factory.mktemp("gguf") / "llamacpp-float32.gguf"
    export_gguf(tiny_model, path, "float32")
    return path


@pytest.fixture(scope="session")
def tiny_prompt_ids(tiny_model, tmp_path_factory) -> Path:
    from llmbench.models.prompts import encode_queries, read_queries

    queries = read_queries(REPO / "config/prompts/article_zh.txt")
    path = tmp_path_factory.mktemp("prompts") / "tiny.json"
    path.write_text(json.dumps({"queries": queries, "prompt_ids": encode_queries(tiny_model, queries)}))
    return path


@pytest.fixture(scope="session")
def peer_model(tmp_path_factory) -> Path:
    """A user's own model: a Llama folder written straight by transformers' save_pretrained
    (not through our presets), with a `tokenizers` WordLevel tokenizer saved through
    PreTrainedTokenizerFast, fp32, untied embeddings."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("models") / "peer"
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=1000,
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=False,
        max_position_embeddings=1024,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    LlamaForCausalLM(config).to(torch.float32).save_pretrained(folder)
    vocab = {"[UNK]": 0, "<s>": 1, "</s>": 2} | {f"w{i}": i for i in range(3, 1000)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", bos_token="<s>", eos_token="</s>", pad_token="[UNK]"
    ).save_pretrained(folder)
    return folder


def make_spec(
    model_dir: Path,
    prompt_ids: Path,
    backend: str,
    artifact=None,
    scenario=None,
    device="cpu",
    timeout_s=300,
    options=None,
    replica=0,
):
    """A RunSpec for `backend` on a model folder (a manifest is written beside it once)."""
    from llmbench.io import write_json_atomic
    from llmbench.models.manifest import build_manifest
    from llmbench.record import RunId, RunKey, RunSpec
    from records import scenario as make_scenario

    manifest = model_dir.parent / f"{model_dir.name}-manifest.json"
    if not manifest.exists():
        write_json_atomic(manifest, build_manifest(model_dir, {"source": "synthetic", "preset": "tiny"}))
    if not hasattr(scenario, "kind"):
        settings = {
            "type": "loop",
            "output_tokens": 12,
            "warmup_passes": 1,
            "repetitions": 2,
            **(scenario or {}),
        }
        scenario = make_scenario(settings.pop("type"), **settings)
    return RunSpec(
        run=RunId(RunKey(model_dir.name, backend, "test"), replica),
        scenario=scenario,
        device=device,
        dtype="float32",
        cpu_threads=1,
        backend_options=options or {},
        sample_period_s=0.05,
        timeout_s=timeout_s,
        model_dir=str(model_dir),
        artifact=str(artifact or model_dir),
        manifest=str(manifest),
        prompts_ids=str(prompt_ids),
        workflow_dir=str(REPO),
    )


@pytest.fixture
def llama_cpp_witness(tmp_path) -> tuple[Path, Path]:
    """A stand-in llama_cpp package that writes, when its native module loads, whether numpy
    was loaded before it: (the folder to put on sys.path, the witness file)."""
    fake = tmp_path / "site" / "llama_cpp"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    witness = tmp_path / "numpy-before-llama.txt"
    (fake / "llama_cpp.py").write_text(
        f"import sys\nopen({str(witness)!r}, 'w').write(str('numpy' in sys.modules))\n"
    )
    return fake.parent, witness


def copy_workflow(destination: Path) -> Path:
    """The workflow's tracked and untracked-but-not-ignored files, as a fresh clone has them."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


@pytest.fixture(scope="session")
def finished(tmp_path_factory) -> Path:
    """A copy of the workflow after one full run of its default config. Read it only:
    a test that changes anything takes its own copy (workflow.own_copy)."""
    from workflow import RUN, snakemake

    workdir = copy_workflow(tmp_path_factory.mktemp("workflow"))
    snakemake(workdir, *RUN)
    return workdir


# `make faults`: every test marked `fault` or `bad_input` is one case; the summary
# line counts the cases that passed (setup errors and skips count as not passed).
_CASES: dict[str, dict[str, bool]] = {"fault": {}, "bad_input": {}}


def pytest_runtest_logreport(report):
    for kind, cases in _CASES.items():
        if kind not in report.keywords:
            continue
        if report.when == "call":
            cases[report.nodeid] = report.passed
        elif report.failed or report.skipped:
            cases[report.nodeid] = False


def pytest_terminal_summary(terminalreporter):
    faults, bad = _CASES["fault"], _CASES["bad_input"]
    if faults or bad:
        terminalreporter.write_line(
            f"faults survived: {sum(faults.values())}/{len(faults)}, "
            f"bad inputs rejected clearly: {sum(bad.values())}/{len(bad)}"
        )


# `make test-fast` leaves out tests marked `slow`. A test is slow by what it needs: a model
# built, converted or exported (these fixtures), or a finished workflow; others carry the mark
# themselves (a real backend in a child process, a rendered report with figures).
SLOW_FIXTURES = frozenset(
    {
        "tiny_model",
        "chatglm2_tiny",
        "tiny_flm",
        "tiny_gguf",
        "tiny_prompt_ids",
        "peer_model",
        "models",
        "finished",
    }
)


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
