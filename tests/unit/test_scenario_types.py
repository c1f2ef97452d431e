"""The scenario-type table: the schema and the settings class are made from it."""

import pytest

from conftest import REPO
from llmbench.config import ConfigError, load_schema, validate_config
from llmbench.scenario_types import KEYS, TYPES, Scenario


def config(**scenario):
    return {"models": {"m": {"source": "synthetic", "preset": "tiny"}}, "scenarios": {"s": scenario}}


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_every_type_accepts_its_keys_and_fills_their_defaults(kind):
    settings = validate_config(config(type=kind), REPO)["scenarios"]["s"]
    assert set(settings) == {"type", *TYPES[kind].keys} - {"backends"}
    assert Scenario.from_dict(settings).to_dict() == settings


@pytest.mark.bad_input
@pytest.mark.parametrize("kind", sorted(TYPES))
def test_a_key_of_another_type_is_an_error_naming_it(kind):
    foreign = sorted(set(KEYS) - set(TYPES[kind].keys))
    for key in foreign:
        value = KEYS[key][0].get("default", 1)
        with pytest.raises(ConfigError) as error:
            validate_config(config(type=kind, **{key: value}), REPO)
        assert f"scenarios.s: {key} does not apply to a {kind} scenario (its keys: " in str(error.value)


def test_the_schema_lists_exactly_the_table():
    scenario = load_schema()["$defs"]["scenario"]
    assert scenario["properties"]["type"]["enum"] == list(TYPES)
    for branch in scenario["allOf"]:
        kind = branch["if"]["properties"]["type"]["const"]
        assert set(branch["then"]["properties"]) == {"type", *TYPES[kind].keys}


def test_which_levels_decode_at_batch_1():
    sweep = Scenario.from_dict(
        validate_config(config(type="sweep", concurrency=[1, 4]), REPO)["scenarios"]["s"]
    )
    threads = Scenario.from_dict(validate_config(config(type="threads", workers=1), REPO)["scenarios"]["s"])
    assert [sweep.kind.concurrent(sweep, lv) for lv in sweep.kind.levels(sweep)] == [1, 4]
    assert threads.kind.concurrent(threads, None) == 1
