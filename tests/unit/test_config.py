import copy
import json
from dataclasses import fields
from pathlib import Path

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from llmbench import backends
from llmbench.config import (
    IDENTITY_KEYS,
    ConfigError,
    owner_problem,
    read_stamp,
    results_identity,
    validate_config,
)
from llmbench.models.prompts import read_queries

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted(p.name for p in (REPO / "config").glob("*.yaml") if p.name != "article.yaml")


@pytest.fixture
def config():
    return yaml.safe_load((REPO / "config/config.yaml").read_text())


def problems(config, base=REPO):
    with pytest.raises(ConfigError) as caught:
        validate_config(config, base)
    return "\n".join(caught.value.problems)


@pytest.mark.parametrize("name", CONFIGS)
def test_every_shipped_config_is_valid(name, tmp_path, peer_model):
    """As a user runs it: a local model path relative to the workflow (own-model.yaml names
    the folder `make run` builds) stands for a model folder that exists."""
    config = yaml.safe_load((REPO / "config" / name).read_text())
    (tmp_path / "config").symlink_to(REPO / "config")
    for model in config["models"].values():
        if model["source"] == "local" and not Path(model["path"]).expanduser().is_absolute():
            (tmp_path / model["path"]).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / model["path"]).symlink_to(peer_model)
    validate_config(config, tmp_path)


def test_defaults_are_filled_in_and_the_input_left_untouched(config):
    validated = validate_config(config, REPO)
    assert validated["scenarios"]["loop"]["min_duration_s"] == 0  # schema default
    assert validated["scenarios"]["loop"]["target_ci_pct"] is None
    assert validated["cpu_threads"] is None and validated["backend_options"] == {}
    assert validated["report"]["language"] == "zh" and validated["report"]["article"] == "config/article.yaml"
    assert "min_duration_s" not in config["scenarios"]["loop"]


@pytest.mark.bad_input
def test_unknown_backend_is_named_with_the_known_ones(config):
    config["backends"] = ["hf", "vllm-typo"]
    message = problems(config)
    assert "backends: unknown backend `vllm-typo`; known: " in message and "fastllm" in message


@pytest.mark.bad_input
def test_unknown_preset(config):
    config["models"]["tiny"]["preset"] = "huge"
    assert "models.tiny.preset: unknown preset `huge`; known: " in problems(config)


@pytest.mark.bad_input
def test_missing_and_non_model_local_folders(config, tmp_path):
    config["models"] = {"mine": {"source": "local", "path": str(tmp_path / "absent")}}
    assert "models.mine.path" in problems(config) and "does not exist" in problems(config)
    config["models"]["mine"]["path"] = str(tmp_path)
    assert "has no config.json" in problems(config)


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("output_tokens", -1, "scenarios.loop.output_tokens: -1 is less than the minimum of 1"),
        ("output_tokens", 0, "scenarios.loop.output_tokens: 0 is less than the minimum of 1"),
        ("repetitions", 0, "scenarios.loop.repetitions: 0 is less than the minimum of 1"),
        ("replicas", 0, "scenarios.loop.replicas: 0 is less than the minimum of 1"),
        ("target_ci_pct", 0, "scenarios.loop.target_ci_pct: 0 is less than or equal to the minimum of 0"),
        ("output_tokens", "many", "scenarios.loop.output_tokens: 'many' is not of type integer"),
    ],
)
def test_bad_scenario_values_name_their_key(config, key, value, expected):
    config["scenarios"]["loop"][key] = value
    assert expected in problems(config)


@pytest.mark.bad_input
def test_typo_in_a_top_level_key_is_caught(config):
    config["backend"] = config.pop("backends")
    message = problems(config)
    assert "backend: unknown key; did you mean `backends`?" in message


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("where", "typo", "meant"),
    [
        (["scenarios", "loop"], "repetition", "repetitions"),
        (["scenarios", "sweep"], "concurency", "concurrency"),
        (["report"], "langauge", "language"),
        ([], "timeout", "timeout_s"),
    ],
)
def test_a_misspelled_key_is_unknown_with_the_closest_key_suggested(config, where, typo, meant):
    """A typo is not reported as a key of another scenario type: difflib names the key meant."""
    section = config
    for key in where:
        section = section.setdefault(key, {})
    section[typo] = section.get(meant, 1) if meant != "language" else "en"
    message = problems(config)
    assert f"{'.'.join([*where, typo])}: unknown key; did you mean `{meant}`?" in message
    assert "does not apply" not in message


def _backends():
    from llmbench.backends import available

    return available()


def _scenario_types():
    from llmbench.scenario_types import TYPES

    return list(TYPES)


LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789-_"


@st.composite
def one_edit(draw, names):
    """(name, a typo of it one edit away: a letter dropped, changed, added, or two swapped)."""
    name = draw(st.sampled_from(names))
    at = draw(st.integers(0, len(name) - 1))
    letter = draw(st.sampled_from(LETTERS))
    edit = draw(st.sampled_from(["drop", "change", "add", "swap"]))
    if edit == "swap" and at + 1 < len(name):
        typo = name[:at] + name[at + 1] + name[at] + name[at + 2 :]
    elif edit == "drop":
        typo = name[:at] + name[at + 1 :]
    elif edit == "change":
        typo = name[:at] + letter + name[at + 1 :]
    else:
        typo = name[:at] + letter + name[at:]
    assume(typo not in names and typo)
    return name, typo


@pytest.mark.bad_input
@given(case=one_edit(_scenario_types()))
@settings(max_examples=60, deadline=None)
def test_a_misspelled_scenario_type_is_suggested_the_type_meant(case):
    """`type: lop` says "did you mean `loop`?", not the schema's list of every type."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    meant, typo = case
    config["scenarios"]["loop"]["type"] = typo
    message = problems(config)
    assert f"scenarios.loop.type: unknown scenario type `{typo}`; did you mean `{meant}`?" in message, message


@pytest.mark.bad_input
@given(case=one_edit(_backends()))
@settings(max_examples=60, deadline=None)
def test_a_misspelled_backend_is_suggested_the_backend_meant(case):
    """`backends: [llamacp]` says "did you mean `llamacpp`?"; so does correctness.reference."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    meant, typo = case
    config["backends"] = [typo]
    config["correctness"] = {"reference": typo}
    message = problems(config)
    for where in ("backends", "correctness.reference"):
        assert f"{where}: unknown backend `{typo}`; did you mean `{meant}`?" in message, message


# Where a name from a table goes in the config, and the table's noun in the message.
NAME_PLACES = {
    "device": (["device"], "device", ["auto", "cuda", "cpu"]),
    "language": (["report", "language"], "report language", ["zh", "en"]),
    "dtype": (["models", "tiny", "dtype"], "dtype", ["float32", "float16", "bfloat16"]),
    "preset": (["models", "tiny", "preset"], "preset", ["tiny", "chatglm2-tiny"]),
    "type": (["scenarios", "loop", "type"], "scenario type", ["loop", "threads", "fixed", "sweep"]),
    "reference": (["correctness", "reference"], "backend", ["hf", "fastllm", "llamacpp", "hf-compile"]),
}


def _set(config, path, value):
    for key in path[:-1]:
        config = config.setdefault(key, {})
    config[path[-1]] = value


@pytest.mark.bad_input
@given(
    place=st.sampled_from(sorted(NAME_PLACES)),
    data=st.data(),
)
@settings(max_examples=60, deadline=None)
def test_a_name_in_other_case_is_suggested_the_name(place, data):
    """`LOOP`, `HF`, `CPU`, `ZH`, `TINY`, `Float32`: the name meant, not another one close in spelling."""
    path, noun, names = NAME_PLACES[place]
    meant = data.draw(st.sampled_from(names))
    flips = data.draw(st.lists(st.booleans(), min_size=len(meant), max_size=len(meant)))
    typed = "".join(c.upper() if flip else c for c, flip in zip(meant, flips, strict=True))
    assume(typed != meant)
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    _set(config, path, typed)
    message = problems(config)
    assert f"{'.'.join(path)}: unknown {noun} `{typed}`; did you mean `{meant}`?" in message, message


@pytest.mark.bad_input
@pytest.mark.parametrize(
    "place, typed, meant",
    [
        ("device", "gpu", "cuda"),
        ("device", "GPU", "cuda"),
        ("language", "cn", "zh"),
        ("reference", "llama.cpp", "llamacpp"),
        ("reference", "FastLLM", "fastllm"),
        ("dtype", "fp16", "float16"),
    ],
)
def test_another_tools_word_is_suggested_the_name_it_means(config, place, typed, meant):
    """`device: gpu` is one letter from `cpu` but means `cuda`: the alias table decides."""
    path, noun, _ = NAME_PLACES[place]
    _set(config, path, typed)
    assert f"{'.'.join(path)}: unknown {noun} `{typed}`; did you mean `{meant}`?" in problems(config)


@pytest.mark.bad_input
@given(
    place=st.sampled_from(sorted(NAME_PLACES)),
    value=st.lists(st.sampled_from(["hf", "loop", "cpu", "zh"]), min_size=1, max_size=2)
    | st.integers()
    | st.booleans(),
)
@settings(max_examples=40, deadline=None)
def test_a_value_of_another_type_where_a_name_is_expected_gets_one_line(place, value):
    """`correctness.reference: [hf]`: the type error alone, not also "is not one of" or "unknown"."""
    path, _, _ = NAME_PLACES[place]
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    _set(config, path, value)
    lines = [line for line in problems(config).splitlines() if line.startswith(".".join(path) + ":")]
    assert lines == [f"{'.'.join(path)}: {value!r} is not of type string"], lines


@pytest.mark.bad_input
@given(name=st.sampled_from(["hf", "llamacpp", "fastllm", "hx"]), where=st.sampled_from(["top", "scenario"]))
@settings(max_examples=20, deadline=None)
def test_a_string_where_a_list_of_backends_is_expected_is_not_split_into_letters(name, where):
    """`--config backends=hf`: one line saying it is not a list, not "unknown backend `h`"."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    _set(config, ["backends"] if where == "top" else ["scenarios", "loop", "backends"], name)
    message = problems(config)
    assert "is not of type array" in message
    assert not any(f"`{letter}`" in message or f"'{letter}' is not among" in message for letter in name), (
        message
    )


@pytest.mark.bad_input
@given(case=one_edit(_backends()), under=st.sampled_from(["backend_options", "weights"]))
@settings(max_examples=40, deadline=None)
def test_a_misspelled_backend_key_is_suggested_the_backend(case, under):
    """`weights: {llamacp: [...]}` and `backend_options: {llamacp: {...}}` say "unknown backend
    `llamacp`; did you mean `llamacpp`?", not only that no such backend is chosen."""
    meant, typo = case
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    if under == "weights":
        assume(meant in {"llamacpp", "hf", "fastllm"} and typo not in backends.available())
        where = f"models.tiny.weights.{typo}"
        config["models"]["tiny"]["weights"] = {typo: []}
        # the suggestion is among the backends with weight formats (the keys that may go there)
        assume(backends.weight_formats(meant))
    else:
        assume(typo not in backends.available())
        where = f"backend_options.{typo}"
        config["backend_options"] = {typo: {}}
    message = problems(config)
    assert f"{where}: unknown backend `{typo}`; did you mean `{meant}`?" in message, message


@pytest.mark.bad_input
def test_lop_and_llamacp_are_asked_whether_loop_and_llamacpp_were_meant(config):
    config["scenarios"]["loop"]["type"] = "lop"
    config["backends"] = ["hf", "llamacp"]
    message = problems(config)
    assert "scenarios.loop.type: unknown scenario type `lop`; did you mean `loop`?" in message
    assert "backends: unknown backend `llamacp`; did you mean `llamacpp`?" in message


@pytest.mark.bad_input
def test_a_key_like_no_other_points_to_the_readme(config):
    config["scenarios"]["loop"]["zzz"] = 1
    assert "scenarios.loop.zzz: unknown key; see config/README.md for the keys" in problems(config)


def test_a_home_folder_in_a_path_is_expanded(config, peer_model, monkeypatch):
    monkeypatch.setenv("HOME", str(peer_model.parent))
    config["models"] = {"mine": {"source": "local", "path": f"~/{peer_model.name}"}}
    assert validate_config(config, REPO)["models"]["mine"]["path"] == str(peer_model)


@pytest.mark.bad_input
def test_empty_and_non_utf8_prompts_files(config, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    config["prompts"] = str(empty)
    assert "holds no query" in problems(config)
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("café\n".encode("latin-1"))
    config["prompts"] = str(latin)
    assert "is not UTF-8" in problems(config)


@pytest.mark.bad_input
def test_hub_model_needs_a_pinned_revision(config):
    config["models"]["hubbed"] = {"source": "hub", "repo_id": "org/model"}
    assert "models.hubbed: source hub needs revision" in problems(config)


@pytest.mark.bad_input
def test_keys_of_another_source_are_rejected(config):
    config["models"]["tiny"]["repo_id"] = "org/model"
    assert "repo_id do not apply to source synthetic" in problems(config)


@pytest.mark.bad_input
def test_all_problems_are_reported_at_once(config):
    broken = copy.deepcopy(config)
    broken["backends"] = ["nope"]
    broken["models"]["tiny"]["preset"] = "huge"
    message = problems(broken)
    assert "unknown backend" in message and "unknown preset" in message


# One fault of each kind the checks find: the schema's (a misspelled key, a wrong type), the
# checks it cannot express (an unknown backend or preset, a reference without results), and the
# queries an earlier run tokenized (a loop past the context): (change, the line that names it).
FAULTS = {
    "misspelled key": (
        lambda c: c["scenarios"]["loop"].update(repetition=3),
        "scenarios.loop.repetition: unknown key; did you mean `repetitions`?",
    ),
    "wrong type": (
        lambda c: c["scenarios"]["threads"].update(workers="five"),
        "scenarios.threads.workers: 'five' is not of type integer",
    ),
    "unknown backend": (lambda c: c["backends"].append("vllm"), "backends: unknown backend `vllm`"),
    "unknown preset": (
        lambda c: c["models"]["tiny"].update(preset="huge"),
        "models.tiny.preset: unknown preset",
    ),
    "reference": (
        lambda c: c["report"].update(reference="config"),
        "report.reference: config has no summary.csv",
    ),
    "loop past the context": (
        lambda c: c["scenarios"]["loop"].update(output_tokens=2000),
        "scenarios.loop: the longest query of model tiny is 250 tokens",
    ),
}


@pytest.mark.bad_input
@given(chosen=st.sets(st.sampled_from(sorted(FAULTS)), min_size=1))
@settings(max_examples=25, deadline=None)
def test_every_fault_is_named_in_one_round_whatever_else_is_wrong(chosen, tmp_path_factory):
    """A schema error no longer hides the other checks' problems until it is fixed."""
    base = tmp_path_factory.mktemp("base")
    (base / "config").symlink_to(REPO / "config")
    queries = read_queries(REPO / "config/prompts/article_zh.txt")
    (base / "results/prompts").mkdir(parents=True)
    (base / "results/prompts/tiny.json").write_text(
        json.dumps({"queries": queries, "prompt_ids": [[1] * 250] * len(queries), "context": 2048})
    )
    broken = yaml.safe_load((REPO / "config/config.yaml").read_text())
    for name in chosen:
        FAULTS[name][0](broken)
    with pytest.raises(ConfigError) as caught:
        validate_config(broken, base, tokenized_prompts="results/prompts/{model}.json")
    message = "\n".join(caught.value.problems)
    assert all(FAULTS[name][1] in message for name in chosen), (chosen, message)
    assert len(caught.value.problems) == len(chosen), message


def test_the_prompts_file_is_read_once_per_validation(config, monkeypatch):
    """The prompts check reads the queries; the token-length check takes them from it."""
    import llmbench.config

    reads = []
    monkeypatch.setattr(
        llmbench.config, "read_queries", lambda path: reads.append(path) or read_queries(path)
    )
    validate_config(config, REPO, tokenized_prompts="results/prompts/{model}.json")
    assert len(reads) == 1, reads


def _changed_prompts_workdir(base):
    """A workdir after a run of other queries: its tokenized queries and acquired model folder
    (config.json, a tokenizer file and a weights file; the tokenizer itself is stood in for)."""
    (base / "config").symlink_to(REPO / "config")
    (base / "results/prompts").mkdir(parents=True)
    (base / "results/prompts/tiny.json").write_text(
        json.dumps({"queries": ["earlier"], "prompt_ids": [[1]], "context": 2048})
    )
    source = base / "resources/models/tiny/source"
    source.mkdir(parents=True)
    (source / "config.json").write_text(json.dumps({"max_position_embeddings": 2048}))
    (source / "tokenizer.json").write_text('{"vocab": 1}')
    (source / "model.safetensors").write_bytes(b"weights")
    return source


def test_changed_queries_are_tokenized_once_until_they_or_the_tokenizer_change(config, tmp_path, monkeypatch):
    """Every Snakefile parse validates (each job's, under SLURM): the lengths of changed queries are
    kept under a digest of queries, tokenizer files and template flag, so the next parse loads no
    tokenizer; a change to any of the three tokenizes again, a change to the weights does not."""
    from llmbench.models import prompts

    source = _changed_prompts_workdir(tmp_path)
    encoded = []

    def encode(model_dir, queries, use_chat_template=True):
        encoded.append((queries, use_chat_template))
        return [[1] * (len(q) + 100 * use_chat_template) for q in queries]

    monkeypatch.setattr(prompts, "encode_queries", encode)
    paths = {
        "tokenized_prompts": "results/prompts/{model}.json",
        "model_sources": "resources/models/{model}/source",
        "token_cache": ".snakemake/llmbench/token-lengths/{model}.json",
    }

    def validate():
        return validate_config(config, tmp_path, **paths)

    def past_the_context():
        """With the template, the longest query's stand-in ids + output_tokens are 2049 tokens."""
        longest = max(map(len, read_queries(REPO / config["prompts"]))) + 100
        config["scenarios"]["loop"]["output_tokens"] = 2049 - longest
        with pytest.raises(ConfigError) as caught:
            validate()
        return caught.value.problems

    validate()
    assert len(encoded) == 1
    validate()
    assert len(encoded) == 1  # the same inputs: read from the cache
    problems = past_the_context()
    assert (
        len(encoded) == 1
        and "+ output_tokens" in problems[0]
        and "= 2049 exceeds its context (2048)" in problems[0]
    )
    (source / "model.safetensors").write_bytes(b"other weights")
    past_the_context()
    assert len(encoded) == 1
    (source / "tokenizer.json").write_text('{"vocab": 2}')
    past_the_context()
    assert len(encoded) == 2
    config["chat_template"] = False  # shorter: fits
    validate()
    assert len(encoded) == 3
    (tmp_path / "other.txt").write_text("a new query\n")
    config["prompts"] = "other.txt"
    validate()
    validate()
    assert encoded[3:] == [(["a new query"], False)]


@pytest.mark.bad_input
def test_repeated_concurrency_levels_are_rejected(config):
    config["scenarios"]["sweep"]["concurrency"] = [2, 2]
    assert "scenarios.sweep.concurrency: [2, 2] repeats a value; each must appear once" in problems(config)


@pytest.mark.bad_input
def test_a_key_of_another_scenario_type_is_named(config):
    config["scenarios"]["sweep"]["workers"] = 3
    assert "scenarios.sweep: workers does not apply to a sweep scenario (its keys: " in problems(config)


@pytest.mark.bad_input
def test_lengths_beyond_the_models_context_are_rejected_before_anything_runs(config, peer_model):
    config["scenarios"]["fixed"]["input_tokens"] = 2040
    assert (
        "scenarios.fixed: input_tokens + output_tokens = 2056 exceeds the context of model tiny (2048)"
        in problems(config)
    )
    config["scenarios"]["fixed"]["input_tokens"] = 1020
    config["models"] = {"peer": {"source": "local", "path": str(peer_model)}}
    assert "exceeds the context of model peer (1024)" in problems(config)


@pytest.mark.bad_input
def test_lengths_beyond_hf_compiles_cache_are_rejected(config):
    config["backends"] = ["hf", "hf-compile"]
    config["backend_options"] = {"hf-compile": {"max_cache_len": 40}}
    assert (
        "scenarios.fixed: input_tokens + output_tokens = 48 exceeds backend_options.hf-compile.max_cache_len (40)"
        in problems(config)
    )


@given(cache=st.integers(1, 4096), n_ctx=st.integers(1, 4096), compile_in_loop=st.booleans())
@settings(max_examples=20, deadline=None)
def test_the_token_caps_of_a_scenario_are_the_options_its_backends_mark(cache, n_ctx, compile_in_loop):
    """From the Options tables (`caps_tokens`), per scenario, only for the backends it runs."""
    from llmbench.backends import available, get_backend, scenario_token_caps

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["backends"] = ["hf", "hf-compile", "llamacpp-server"]
    config["backend_options"] = {"hf-compile": {"max_cache_len": cache}, "llamacpp-server": {"n_ctx": n_ctx}}
    config["scenarios"]["loop"]["backends"] = ["hf", "hf-compile"] if compile_in_loop else ["hf"]
    caps = scenario_token_caps(config)
    both = {"backend_options.hf-compile.max_cache_len": cache, "backend_options.llamacpp-server.n_ctx": n_ctx}
    assert caps["threads"] == both
    assert caps["loop"] == ({"backend_options.hf-compile.max_cache_len": cache} if compile_in_loop else {})
    marked = {
        name: [f.name for f in fields(get_backend(name).Options) if f.metadata.get("caps_tokens")]
        for name in available()
    }
    assert {name: keys for name, keys in marked.items() if keys} == {
        "hf-compile": ["max_cache_len"],
        "llamacpp-server": ["n_ctx"],
    }


@pytest.mark.bad_input
def test_backend_options_are_typed_per_backend(config):
    config["backend_options"] = {"fastllm": {"cpu_thread": 2}}
    assert "backend_options.fastllm.cpu_thread: unknown key; did you mean `cpu_threads`?" in problems(config)
    config["backend_options"] = {"fastllm": {"cpu_threads": "two"}}
    assert "backend_options.fastllm.cpu_threads: 'two' is not of type ['integer', 'null']" in problems(config)


@pytest.mark.bad_input
def test_a_time_cap_below_the_minimum_duration_is_rejected(config):
    config["scenarios"]["loop"].update(min_duration_s=10, max_duration_s=5)
    assert "scenarios.loop: min_duration_s 10 exceeds max_duration_s 5" in problems(config)


@pytest.mark.bad_input
def test_a_broken_article_file_is_named(config, tmp_path):
    (tmp_path / "article.yaml").write_text("loop_total_ms: {hf: -1}\n")
    config["report"] = {"article": str(tmp_path / "article.yaml")}
    assert f"report.article: {tmp_path / 'article.yaml'}:" in problems(config)


def test_the_reproduce_command_names_the_cores_config_files_and_overrides_as_a_user_types_them(tmp_path):
    import shlex

    from llmbench.config import reproduce_command

    inside = str(tmp_path / "config" / "gpu.yaml")
    outside = "/elsewhere/my config.yaml"
    overrides = ["report={'language': 'en'}", "backends=['hf']"]
    command = reproduce_command(16, [inside, outside], overrides, workdir=str(tmp_path))
    # One --configfile for every file (repeated flags keep only the last), overrides after --config.
    assert shlex.split(command) == [
        "snakemake",
        "--cores",
        "16",
        "--resources",
        "gpu=1",
        "--configfile",
        "config/gpu.yaml",
        "/elsewhere/my config.yaml",
        "--config",
        *overrides,
    ]
    assert reproduce_command(1, []) == "snakemake --cores 1 --resources gpu=1"


@given(
    overrides=st.lists(
        st.sampled_from(["fail_on_failed_runs=true", "timeout_s=5", "cpu_threads=2"]), unique=True
    )
)
def test_the_reproduce_command_leaves_out_the_keys_that_shape_no_output(overrides):
    """fail_on_failed_runs decides how a command ends: in the report's command line it would rerun the
    report whenever it is set or unset on the command line."""
    from llmbench.config import reproduce_command

    command = reproduce_command(1, ["c.yaml"], overrides)
    kept = [o for o in overrides if not o.startswith("fail_on_failed_runs")]
    assert command.endswith(" --config " + " ".join(kept) if kept else "--configfile c.yaml"), command
    assert "fail_on_failed_runs" not in command


@pytest.mark.bad_input
def test_results_of_another_configs_models_are_refused_saying_what_to_type(config):
    """One results/ holds one config's runs: another config's report would mix them."""
    mine = copy.deepcopy(config)
    mine["models"] = {"mine": {"source": "local", "path": "/models/mine", "dtype": "float16"}}
    stamp = results_identity(validate_config(config, REPO), [str(REPO / "config/config.yaml")], str(REPO))
    ours = results_identity(mine, [str(REPO / "mine.yaml")], str(REPO))
    message = owner_problem(stamp, ours)
    assert (
        "results/ holds the runs of another config (models tiny, from --configfile config/config.yaml)"
        in message
    )
    assert "add their config: --configfile config/config.yaml" in message
    assert "mv results results-tiny" in message
    assert owner_problem(ours, stamp).count("--configfile mine.yaml") == 2


@pytest.mark.bad_input
@given(taken=st.sets(st.sampled_from(["results-tiny", "results-tiny-2", "results-tiny-3", "results-tiny-5"])))
@settings(max_examples=20, deadline=None)
def test_the_folder_to_move_results_to_is_one_that_does_not_exist(taken, tmp_path_factory):
    """`mv results results-tiny` with results-tiny/ there would move results/ inside it."""
    workdir = tmp_path_factory.mktemp("work")
    for name in taken:
        (workdir / name).mkdir()
    stamp = results_identity({"models": {"tiny": {"source": "synthetic", "preset": "tiny"}}}, ["a.yaml"])
    ours = results_identity({"models": {"mine": {"source": "local", "path": "/m"}}}, ["b.yaml"])
    folder = owner_problem(stamp, ours, workdir).split("first move them away: mv results ", 1)[1].split()[0]
    assert folder.startswith("results-tiny") and not (workdir / folder).exists(), (folder, taken)
    assert folder == "results-tiny" or folder[len("results-tiny-") :].isdigit()


@pytest.mark.bad_input
def test_results_of_a_run_that_named_no_config_are_said_to_be_the_defaults(config):
    """A plain `snakemake` read config/config.yaml without --configfile: the message says "the
    default config/config.yaml", not a --configfile nobody typed."""
    default = results_identity(validate_config(config, REPO), ["config/config.yaml"], named=False)
    mine = results_identity({"models": {"mine": {"source": "local", "path": "/m"}}}, ["mine.yaml"])
    message = owner_problem(default, mine)
    assert "(models tiny, from the default config/config.yaml)" in message, message
    assert "from --configfile" not in message
    assert "add their config: --configfile config/config.yaml" in message  # what to type
    assert "this command's config (the default config/config.yaml)" in owner_problem(mine, default)


def test_the_same_models_under_other_settings_or_files_may_use_the_results(config):
    """Reruns after a setting changes (or from a copy of the config file) are what results/ is for."""
    stamp = results_identity(validate_config(config, REPO), ["config/config.yaml"])
    changed = validate_config(config, REPO)
    changed["scenarios"]["loop"]["output_tokens"] = 4
    assert owner_problem(stamp, results_identity(changed, ["changed.yaml"])) is None
    assert owner_problem(None, stamp) is None  # results/ not stamped yet: written on the next run


@pytest.mark.bad_input
@given(ours=st.sampled_from(["own.yaml", "config/own-model.yaml", "/elsewhere/mine.yaml"]))
@settings(max_examples=10, deadline=None)
def test_a_command_naming_no_config_never_plans_over_another_files_results(ours):
    """After `--configfile X` (same models), a plain `snakemake -n` or `--report` falls back on
    config/config.yaml: refused, naming X, while naming a config on purpose shares the results."""
    validated = validate_config(yaml.safe_load((REPO / "config/config.yaml").read_text()), REPO)
    stamp = results_identity(validated, [ours])
    default = results_identity(validated, ["config/config.yaml"], named=False)
    message = owner_problem(stamp, default)
    assert (
        f"add their config: --configfile {ours}" in message and "--configfile config/config.yaml" in message
    )
    assert owner_problem(stamp, default | {"named": True}) is None
    assert owner_problem(default, default) is None  # the default's own results
    assert owner_problem({"models": stamp["models"]}, default) is None  # an older stamp


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
GOOD_STAMP = {
    "models": {"tiny": {"source": "synthetic", "seed": 0}},
    "configfiles": ["c.yaml"],
    "named": True,
}


def _is_stamp(value) -> bool:
    """A value results_identity gives, restated: the shape owner_problem may read."""
    models = value.get("models") if isinstance(value, dict) else None
    return (
        isinstance(models, dict)
        and bool(models)
        and all(
            isinstance(keys, dict)
            and all(k in IDENTITY_KEYS and type(v) in (str, int, float) for k, v in keys.items())
            for keys in models.values()
        )
        and isinstance(value.get("configfiles", []), list)
        and all(isinstance(f, str) for f in value.get("configfiles", []))
        and type(value.get("named", True)) is bool
    )


@pytest.mark.bad_input
@given(
    stamp=JSON_VALUES.filter(lambda v: v is not None)  # None: no stamp file (read_stamp)
    | st.fixed_dictionaries({}, optional={k: JSON_VALUES | st.just(v) for k, v in GOOD_STAMP.items()}).map(
        lambda d: d | {"models": d.get("models", GOOD_STAMP["models"])}
    )
)
def test_a_stamp_this_workflow_did_not_write_is_named_never_a_traceback(stamp):
    """`[]`, `{"models": []}`, `"configfiles": "config/config.yaml"` (printed letter by letter):
    named as not a stamp this workflow wrote, with what to do; a stamp of the right shape is
    compared as before."""
    ours = results_identity({"models": {"tiny": {"source": "synthetic", "seed": 0}}}, ["c.yaml"])
    message = owner_problem(stamp, ours)
    named = message is not None and message.startswith(
        "results/config-identity.json is not a stamp this workflow wrote ("
    )
    assert named == (not _is_stamp(stamp))
    if named:
        assert "delete it if results/ holds this config's runs" in message


@pytest.mark.bad_input
@pytest.mark.parametrize("content", [b"", b"{", b"\xff\xfe", b"[]", b"null"])
def test_a_stamp_file_that_is_not_a_json_object_is_named(tmp_path, content):
    (tmp_path / "stamp.json").write_bytes(content)
    stamp = read_stamp(tmp_path / "stamp.json")
    message = owner_problem(stamp, results_identity({"models": {"m": {}}}, ["c.yaml"]))
    assert message.startswith("results/config-identity.json is not a stamp this workflow wrote (")
    assert read_stamp(tmp_path / "absent.json") is None


@given(
    spelling=st.sampled_from(["/data/m", "/data/./m", "/data/m/", "/other/../data/m", "/data//m"]),
    dtype=st.sampled_from(["float32", "float16"]),
)
def test_one_folder_spelled_two_ways_is_one_config_and_a_real_difference_is_named(spelling, dtype):
    """`path: ~/../data/m` after a run of `/data/m` (the same folder) shares its results; a model of
    the same name that differs is refused naming what differs, not "models m ... has models m"."""

    def config(path, dtype="float32"):
        return {"models": {"m": {"source": "local", "path": path, "dtype": dtype}}}

    stamp = results_identity(config("/data/m"), ["a.yaml"])
    ours = results_identity(config(spelling, dtype), ["b.yaml"])
    message = owner_problem(stamp, ours)
    if dtype == "float32":
        assert message is None
    else:
        assert "models m (source local, path /data/m, dtype float32)" in message, message
        assert "has models m (source local, path /data/m, dtype float16)" in message, message


def _record_json() -> dict:
    """A failed run's record as the workflow writes it."""
    from llmbench.record import RunId, RunRecord

    return RunRecord.failure(RunId.parse(RUN_ID), None, "stand-in").to_dict()


RUN_ID = "tiny/hf/loop/0"
FOLDERS = st.sampled_from(["", "results/", "resources/", "logs/", "config/", "results/runs/tiny/hf/loop/"])
NAMES = st.sampled_from(["my.yaml", "CFG.YAML", "cfg.conf", "c.yml", "c.json", "cfgnosuffix", "0.json"])


@pytest.mark.bad_input
@given(
    config_places=st.lists(st.tuples(FOLDERS, NAMES), min_size=1, max_size=3, unique=True),
    target_place=st.tuples(FOLDERS, NAMES),
    target_kind=st.sampled_from(["record", "prompts", "manifest"]),
    absolute=st.booleans(),
)
@settings(deadline=None, max_examples=40)
def test_a_workflow_output_after_configfile_is_named_and_a_config_of_any_name_is_not(
    tmp_path_factory, config_places, target_place, target_kind, absolute
):
    """`snakemake --configfile my.yaml results/runs/.../0.json`: Snakemake hands the workflow every
    word after --configfile as a config file (absolute paths). A run record (tokenized prompts, a
    manifest) is named by its content; a config file is not, whatever its name or folder
    (`CFG.YAML`, `cfg.conf`, `logs/my.yaml`), and the way to type it names the config files."""
    from llmbench.config import targets_problem, targets_read_as_config

    assume(target_place not in config_places)
    workdir = tmp_path_factory.mktemp("flow")
    outputs = {
        "record": _record_json(),
        "prompts": {"queries": ["a"], "prompt_ids": [[1]], "form": "raw text", "context": 64},
        "manifest": {"manifest_version": 1, "source": "synthetic", "files": [], "total_bytes": 0},
    }
    configs = ["".join(place) for place in config_places]
    target = "".join(target_place)
    for config in configs:
        (workdir / config).parent.mkdir(parents=True, exist_ok=True)
        (workdir / config).write_text(yaml.safe_dump({"models": {"tiny": {"source": "synthetic"}}}))
    (workdir / target).parent.mkdir(parents=True, exist_ok=True)
    (workdir / target).write_text(json.dumps(outputs[target_kind]))
    given_files = [str(workdir / f) if absolute else f for f in [*configs, target]]
    assert targets_read_as_config(given_files, workdir) == [target]
    assert targets_read_as_config(given_files[:-1], workdir) == []
    message = targets_problem([target], given_files, workdir)
    assert f"`{target}` was read as a config file: put targets before --configfile" in message
    assert "FILE" not in message
    assert f"--configfile {' '.join(configs)} -- {target}" in message


def test_a_byte_order_mark_is_not_part_of_the_first_query(tmp_path):
    prompts = tmp_path / "bom.txt"
    prompts.write_bytes("\ufeff你好\nsecond\n".encode())
    assert read_queries(prompts) == ["你好", "second"]


# -- the precision axis: models.<m>.weights -------------------------------------------------
def _formats(backend):
    from llmbench.backends import weight_formats

    return weight_formats(backend)


def _quantizing():
    from llmbench.backends import available

    return [b for b in available() if _formats(b)]


QUANTIZING = _quantizing()


@given(st.sampled_from(QUANTIZING), st.data())
@settings(max_examples=20, deadline=None)
def test_every_weight_format_of_a_backend_is_accepted(backend, data):
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    chosen = data.draw(st.lists(st.sampled_from(sorted(_formats(backend))), min_size=1, unique=True))
    config["models"]["tiny"]["weights"] = {backend: chosen}
    config["device"] = "cuda"  # where every format runs
    config["backends"] = list(dict.fromkeys([*config["backends"], backend]))
    validated = validate_config(config, REPO)
    assert validated["models"]["tiny"]["weights"] == {backend: chosen}


@given(
    st.sampled_from(QUANTIZING), st.sampled_from(["int4", "int8", "Q4_K_M", "Q8_0", "q4_0", "nf4", "int3"])
)
@settings(max_examples=30, deadline=None)
def test_a_quant_type_a_backend_does_not_have_is_refused_naming_the_key(backend, name):
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["models"]["tiny"]["weights"] = {backend: [name]}
    config["device"] = "cuda"
    config["backends"] = list(dict.fromkeys([*config["backends"], backend]))
    if name in _formats(backend):
        validate_config(config, REPO)
        return
    found = problems(config)
    assert f"models.tiny.weights.{backend}.0: unknown {backend} weight format `{name}`" in found


def test_weights_for_a_backend_without_formats_or_not_run_are_refused(config):
    config["models"]["tiny"]["weights"] = {"hf-remote": ["int8"]}
    assert "models.tiny.weights.hf-remote: hf-remote has no quantized weight formats" in problems(config)
    config["backends"] = ["hf", "llamacpp"]
    config["models"]["tiny"]["weights"] = {"fastllm": ["int4"]}
    assert "models.tiny.weights.fastllm: 'fastllm' is not among backends" in problems(config)


def test_the_default_config_runs_no_quantized_weights(config):
    assert all(m["weights"] == {} for m in validate_config(config, REPO)["models"].values())


def test_a_cuda_only_weight_format_asked_on_cpu_is_refused_naming_the_key(config):
    from llmbench.models.precision import FORMATS

    cuda_only = [
        (kind, f) for kind, table in FORMATS.items() for f in table.values() if "cpu" not in f.devices
    ]
    assert cuda_only  # bitsandbytes' formats
    config["device"] = "cpu"
    config["models"]["tiny"]["weights"] = {"hf": ["bnb-nf4", "torchao-int4"]}
    found = problems(config)
    assert "models.tiny.weights.hf: bnb-nf4 runs only on cuda, and this run's device is cpu" in found
    assert "torchao-int4" not in found
    config["device"] = "cuda"
    validate_config(config, REPO)


@pytest.mark.parametrize("key", ["fail_on_failed_runs", "chat_template"])
@pytest.mark.parametrize("word", ["true", "false", "True", "FALSE", " true "])
def test_booleans_typed_on_the_command_line_are_booleans(config, key, word):
    """`--config fail_on_failed_runs=true` reaches the workflow as the string 'true'."""
    validated = validate_config({**config, key: word}, REPO)
    assert validated[key] is (word.strip().lower() == "true")


@pytest.mark.bad_input
def test_a_word_that_is_no_boolean_is_still_refused(config):
    assert "fail_on_failed_runs" in problems({**config, "fail_on_failed_runs": "yes please"})


# Packages only some runs need: an engine's library, or a served backend's client and server.
ENGINE_PACKAGES = ["httpx2", "ftllm", "llama_cpp", "fastapi", "uvicorn"]


def test_a_config_validates_without_any_engine_package_installed():
    """The schema imports every backend module (their Options); none may import an engine at the
    top, or validating any config needs them all (the GPU image had no httpx2: 2026-12-06)."""
    import subprocess
    import sys

    blocked = ", ".join(repr(p) for p in ENGINE_PACKAGES)
    code = f"""
import importlib.abc, sys
class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ({blocked},):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Missing())
import yaml
from llmbench.config import validate_config
from llmbench.measure.stream_client import StreamClient
validate_config(yaml.safe_load(open("config/config.yaml")))
try:
    StreamClient("http://127.0.0.1:1/v1")
except ModuleNotFoundError as error:
    print("client:", error)
"""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "client: served backends need httpx2" in done.stdout
