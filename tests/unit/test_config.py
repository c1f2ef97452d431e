import copy
from pathlib import Path

import pytest
import yaml

from llmbench.config import ConfigError, validate_config

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
def test_every_shipped_config_is_valid(name):
    validate_config(yaml.safe_load((REPO / "config" / name).read_text()), REPO)


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
    assert "unknown backend 'vllm-typo'" in message and "fastllm" in message


@pytest.mark.bad_input
def test_unknown_preset(config):
    config["models"]["tiny"]["preset"] = "huge"
    assert "models.tiny.preset: unknown preset 'huge'" in problems(config)


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
    assert "'backend' was unexpected" in message and "typo" in message


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


@pytest.mark.bad_input
def test_backend_options_are_typed_per_backend(config):
    config["backend_options"] = {"fastllm": {"cpu_thread": 2}}
    assert (
        "backend_options.fastllm: Additional properties are not allowed ('cpu_thread' was unexpected)"
        in problems(config)
    )
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
