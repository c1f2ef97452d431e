"""Workflow configuration: schema validation with defaults, then checks the schema
cannot express. Every problem is reported with the key it concerns."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, validators

from . import backends
from .models.acquire import ModelSourceError, check_local_model
from .models.presets import PRESETS
from .prompts import PromptsError, read_queries

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"
SOURCE_KEYS = {"synthetic": {"preset"}, "local": {"path"}, "hub": {"repo_id", "revision"}}


class ConfigError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


def _with_defaults(validator_class):
    """A validator that also fills in `default:` values, as Snakemake's validate() does."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def fill_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": fill_defaults})


def _where(error) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def _message(error) -> str:
    if error.validator == "additionalProperties":
        return f"{_where(error)}: {error.message} (a typo? see config/README.md for the keys)"
    if error.validator == "type":
        return f"{_where(error)}: {error.instance!r} is not of type {error.validator_value}"
    return f"{_where(error)}: {error.message}"


def load_schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def validate_config(config: dict, base_dir: str | Path = ".") -> dict:
    """Return a validated copy of `config` with defaults filled in, or raise ConfigError."""
    config = copy.deepcopy(dict(config))
    validator = _with_defaults(Draft202012Validator)(load_schema())
    problems = [
        _message(e) for e in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    ]
    if problems:
        raise ConfigError(problems)
    problems += _check_models(config["models"], Path(base_dir))
    problems += _check_backends(config)
    try:
        read_queries(Path(base_dir) / config["prompts"])
    except PromptsError as error:
        problems.append(f"prompts: {error}")
    reference = config["report"]["reference"]
    if reference is not None and not (Path(base_dir) / reference / "summary.csv").is_file():
        problems.append(f"report.reference: {reference} has no summary.csv (expected a results folder)")
    if problems:
        raise ConfigError(problems)
    return config


def _check_models(models: dict, base_dir: Path) -> list[str]:
    problems = []
    for name, model in models.items():
        where = f"models.{name}"
        source = model["source"]
        missing = sorted(SOURCE_KEYS[source] - model.keys())
        if missing:
            problems.append(f"{where}: source {source} needs {', '.join(missing)}")
            continue
        foreign = sorted((set().union(*SOURCE_KEYS.values()) - SOURCE_KEYS[source]) & model.keys())
        if foreign:
            problems.append(f"{where}: {', '.join(foreign)} do not apply to source {source}")
        if source == "synthetic" and model["preset"] not in PRESETS:
            problems.append(
                f"{where}.preset: unknown preset {model['preset']!r}; known presets: {', '.join(sorted(PRESETS))}"
            )
        if source == "local":
            try:
                check_local_model(base_dir / model["path"])
            except ModelSourceError as error:
                problems.append(f"{where}.path: {error}")
    return problems


def _check_backends(config: dict) -> list[str]:
    known = backends.available()
    problems = [
        f"backends: unknown backend {name!r}; known backends: {', '.join(known)}"
        for name in config["backends"]
        if name not in known
    ]
    reference = config["correctness"]["reference"]
    if reference not in known:
        problems.append(
            f"correctness.reference: unknown backend {reference!r}; known backends: {', '.join(known)}"
        )
    for name in config["backends"]:
        if name not in known:
            continue
        options = config["backend_options"].get(name, {})
        problems += [
            f"backend_options.{name}.{key}: must be {value!r} to run {name} (not set by default on purpose)"
            for key, value in backends.get_backend(name).required_options.items()
            if options.get(key) != value
        ]
    problems += [
        f"scenarios.{scenario}.backends: {name!r} is not among backends: {config['backends']}"
        for scenario, settings in config["scenarios"].items()
        for name in settings.get("backends", [])
        if name not in config["backends"]
    ]
    problems += [
        f"backend_options.{name}: no such backend among backends: {config['backends']}"
        for name in config["backend_options"]
        if name not in config["backends"]
    ]
    return problems
