import copy
from pathlib import Path

import pytest
import yaml

from llmbench.config import ConfigError, validate_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def config():
    return yaml.safe_load((REPO / "config/config.yaml").read_text())


def problems(config, base=REPO):
    with pytest.raises(ConfigError) as caught:
        validate_config(config, base)
    return "\n".join(caught.value.problems)


def test_default_and_gpu_configs_are_valid_and_get_defaults(config):
    validated = validate_config(config, REPO)
    assert validated["scenarios"]["loop"]["min_duration_s"] == 0  # schema default
    assert validated["cpu_threads"] is None and validated["backend_options"] == {}
    assert validated["report"]["language"] == "zh"
    gpu = validate_config(yaml.safe_load((REPO / "config/h100.yaml").read_text()), REPO)
    assert gpu["models"]["chatglm2-6b-shape"]["preset"] == "chatglm2-6b-shape"
    assert "min_duration_s" not in config["scenarios"]["loop"]  # input left untouched


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
        ("workers", 0, "scenarios.loop.workers: 0 is less than the minimum of 1"),
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
