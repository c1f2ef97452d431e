"""Bad input is rejected before anything runs, named by its key, with nothing computed lost."""

import pytest
import yaml

from workflow import RUN, digests, own_copy, snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.bad_input]


def _set(path, value):
    def change(config):
        *parents, key = path
        for parent in parents:
            config = config[parent]
        config[key] = value

    return change


BAD_INPUTS = {
    "unknown backend": (_set(["backends"], ["hf", "vllm-typo"]), "unknown backend `vllm-typo`; known: "),
    "misspelled backend": (
        _set(["backends"], ["hf", "llamacp"]),
        "backends: unknown backend `llamacp`; did you mean `llamacpp`?",
    ),
    "misspelled scenario type": (
        _set(["scenarios", "loop", "type"], "lop"),
        "scenarios.loop.type: unknown scenario type `lop`; did you mean `loop`?",
    ),
    "unknown preset": (
        _set(["models", "tiny", "preset"], "huge"),
        "models.tiny.preset: unknown preset `huge`; known: ",
    ),
    "missing local folder": (
        _set(["models", "tiny"], {"source": "local", "path": "/nonexistent/model"}),
        "models.tiny.path: local model folder /nonexistent/model does not exist",
    ),
    "negative length": (
        _set(["scenarios", "loop", "output_tokens"], -5),
        "scenarios.loop.output_tokens: -5 is less than the minimum of 1",
    ),
    "empty prompts file": (
        _set(["prompts"], "config/empty.txt"),
        "prompts file config/empty.txt holds no query",
    ),
    "YAML type error": (
        _set(["scenarios", "loop", "repetitions"], "three"),
        "scenarios.loop.repetitions: 'three' is not of type integer",
    ),
    "scenario backend not run": (
        _set(["scenarios", "loop", "backends"], ["hf", "vllm"]),
        "scenarios.loop.backends: 'vllm' is not among backends: ['hf', 'fastllm', 'llamacpp']",
    ),
    "zero concurrency": (
        _set(["scenarios", "sweep", "concurrency"], [1, 0]),
        "scenarios.sweep.concurrency.1: 0 is less than the minimum of 1",
    ),
    "repeated concurrency": (
        _set(["scenarios", "sweep", "concurrency"], [2, 2]),
        "scenarios.sweep.concurrency: [2, 2] repeats a value; each must appear once",
    ),
    "key of another scenario type": (
        _set(["scenarios", "sweep", "workers"], 3),
        "scenarios.sweep: workers does not apply to a sweep scenario",
    ),
    "prompts file not UTF-8": (
        _set(["prompts"], "config/latin1.txt"),
        "prompts: prompts file config/latin1.txt is not UTF-8 text (invalid continuation byte at byte 0)",
    ),
    "local folder that is not a model": (
        _set(["models", "tiny"], {"source": "local", "path": "config"}),
        "models.tiny.path: local model folder config is not a model: it has no config.json",
    ),
    "dtype no backend runs": (
        _set(["models", "tiny", "dtype"], "int8"),
        "models.tiny.dtype: unknown dtype `int8`; known: float32, float16, bfloat16",
    ),
    "typo in a key": (
        lambda config: config.update(backend=config.pop("backends")),
        "backend: unknown key; did you mean `backends`?",
    ),
    "reference without results": (
        _set(["report", "reference"], "config"),
        "report.reference: config has no summary.csv (expected a results folder)",
    ),
    "prompt past the context": (
        _set(["scenarios", "fixed", "input_tokens"], 2040),
        "scenarios.fixed: input_tokens + output_tokens = 2056 exceeds the context of model tiny (2048)",
    ),
    # found from the tokenized queries of the finished run: no good record replaced by a failure
    "loop past the context": (
        _set(["scenarios", "loop", "output_tokens"], 2040),
        "scenarios.loop: the longest query of model tiny is",
    ),
    # new prompts past the context, tokenized before anything runs: a failing tokenize_prompts
    # would delete the earlier run's tokenized queries (and rerun every run that read them later)
    "new prompts past the context": (
        lambda config: (
            config.update(prompts="config/long.txt"),
            config["scenarios"]["loop"].update(output_tokens=2040),
        ),
        "scenarios.loop: the longest query of model tiny is",
    ),
    # and past a backend's token cap: refused by its key, not left to fail in every hf-compile run
    "loop past a backend's cache": (
        lambda config: config.update(
            backends=["hf", "hf-compile"], backend_options={"hf-compile": {"max_cache_len": 64}}
        ),
        "exceeds backend_options.hf-compile.max_cache_len (64). Lower output_tokens, raise",
    ),
    "misspelled scenario key": (
        _set(["scenarios", "loop", "repetition"], 3),
        "scenarios.loop.repetition: unknown key; did you mean `repetitions`?",
    ),
    # results/ holds the default config's runs: another config's models are kept apart
    "another config's models": (
        _set(["models"], {"other": {"source": "synthetic", "preset": "tiny", "seed": 1}}),
        # (the default run named no --configfile: the message does not say it did)
        "results/ holds the runs of another config (models tiny, from the default config/config.yaml)",
    ),
    # Snakemake parses --configfile before the workflow runs: its own message, without file or line.
    "YAML syntax error": ("scenarios: [loop\n", "Config file is not valid JSON or YAML"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_named_and_nothing_computed_is_lost(finished, tmp_path, case):
    finished = own_copy(finished, tmp_path / "copy")
    change, expected = BAD_INPUTS[case]
    (finished / "config/empty.txt").write_text("\n")
    (finished / "config/latin1.txt").write_bytes("政策问答\n".encode("gb18030"))
    (finished / "config/long.txt").write_text("政策问答" * 50 + "\n", encoding="utf-8")
    if isinstance(change, str):
        text = change
    else:
        config = yaml.safe_load((finished / "config/config.yaml").read_text())
        change(config)
        text = yaml.safe_dump(config, allow_unicode=True)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    before = digests(finished / "results")
    done = snakemake(finished, *RUN, "--configfile", str(bad), check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert expected in output, output[-3000:]
    assert "Traceback" not in output and "common.smk" not in output  # a user's mistake, no frame
    assert digests(finished / "results") == before


def test_a_target_after_configfile_is_named_and_the_way_to_write_it_works(finished):
    """Snakemake reads every word after --configfile as a config file: a run record (JSON, so
    Snakemake loads it) is refused naming it, not as a config of unknown keys; `--` ends the files."""
    record = "results/runs/tiny/hf/loop/0.json"
    done = snakemake(finished, "-n", *RUN, "--configfile", "config/config.yaml", record, check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert f"`{record}` was read as a config file: put targets before --configfile" in output, output[-3000:]
    assert "unknown key" not in output and "Traceback" not in output
    ended = snakemake(finished, "-n", *RUN, "--configfile", "config/config.yaml", "--", record)
    assert "was read as a config file" not in ended.stdout + ended.stderr
