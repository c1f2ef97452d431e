"""Workflow configuration: schema validation with defaults, then checks the schema
cannot express. Every problem is reported with the key it concerns, all at once,
before anything runs.

The schema file holds the top level; each scenario type's keys come from
:mod:`llmbench.scenario_types` and each backend's options from its Options
dataclass, so neither is written twice.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import shlex
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, validators

from . import backends
from .io import read_json
from .measure.device import resolve_device
from .models.acquire import ModelSourceError, check_local_model
from .models.presets import PRESETS
from .models.prompts import PromptsError, query_output_tokens, read_queries, tokenized_overflow
from .scenario_types import KEYS, TYPES, scenario_schema

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"
SOURCE_KEYS = {"synthetic": {"preset"}, "local": {"path"}, "hub": {"repo_id", "revision"}}


class ConfigError(ValueError):
    """The configuration is invalid: `problems` lists every problem found, each naming its key."""

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


def _key(error, key: str) -> str:
    return ".".join([*map(str, error.absolute_path), key])


def _messages(error) -> list[str]:
    """One line per problem of a schema error, naming its key."""
    path = list(error.absolute_path)
    if error.validator == "enum" and _fails_type(error.instance, error.schema.get("type")):
        return []  # a list where a name is expected: the type error is its one line
    if error.validator != "additionalProperties":
        return [_message(error)]
    known = list(error.schema.get("properties", {}))
    if len(path) == 2 and path[0] == "scenarios":
        return _scenario_key_messages(error, known)
    if path[:1] == ["models"] and path[2:] == ["weights"]:
        return [
            f"{_key(error, key)}: {key} has no quantized weight formats (backends with some: {', '.join(known)})"
            if key in backends.available()
            else _unknown_value(_key(error, key), "backend", key, known)
            for key in sorted(set(error.instance) - set(known))
        ]
    return [_unknown_key(_key(error, key), key, known) for key in sorted(set(error.instance) - set(known))]


def _fails_type(instance, types) -> bool:
    """Whether `instance` is none of the JSON schema `types` (a name or a list; None: no type)."""
    if types is None:
        return False
    checker = Draft202012Validator.TYPE_CHECKER
    return not any(checker.is_type(instance, t) for t in ([types] if isinstance(types, str) else types))


def _message(error) -> str:
    if error.validator == "enum" and isinstance(error.instance, str):
        # a value from a table: the schema says what it names (`x-noun`: scenario type, dtype, ...)
        noun = error.schema.get("x-noun", "value")
        return _unknown_value(_where(error), noun, error.instance, error.validator_value)
    if error.validator == "type":
        return f"{_where(error)}: {error.instance!r} is not of type {error.validator_value}"
    if error.validator == "uniqueItems":
        return f"{_where(error)}: {error.instance} repeats a value; each must appear once"
    return f"{_where(error)}: {error.message}"


def _unknown_key(where: str, key: str, known) -> str:
    """`where: unknown key; did you mean `x`?` (difflib's closest known key), or the keys to look up."""
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`?" if close else "see config/README.md for the keys"
    return f"{where}: unknown key; {hint}"


# difflib's similarity ratio of a one-edit typo of an n-letter name is at least (n - 1) / n (a
# letter changed or two swapped): 1/2 keeps a typo of a two-letter name (`hx` for `hf`) in reach.
VALUE_CUTOFF = 0.5


# Other tools' words for a table's name, lower case: spelling cannot reach them (`gpu` is one
# letter from `cpu` but means `cuda`; `cn` is no typo of `zh`), so they are looked up first.
VALUE_ALIASES = {
    "gpu": "cuda",
    "nvidia": "cuda",
    "cn": "zh",
    "chinese": "zh",
    "english": "en",
    "llama.cpp": "llamacpp",
    "llama-cpp": "llamacpp",
    "llama_cpp": "llamacpp",
    "transformers": "hf",
    "huggingface": "hf",
    "fp32": "float32",
    "fp16": "float16",
    "bf16": "bfloat16",
}


def _closest(value: str, known: list[str]) -> str | None:
    """The name of `known` that `value` most likely means: the same name in other case (`LOOP`,
    `FastLLM`), the name VALUE_ALIASES gives (`gpu` -> `cuda`), else difflib's closest spelling,
    case ignored; None when none is close."""
    by_fold = {k.casefold(): k for k in known}
    folded = value.casefold()
    if folded in by_fold:
        return by_fold[folded]
    if VALUE_ALIASES.get(folded) in known:
        return VALUE_ALIASES[folded]
    close = difflib.get_close_matches(folded, list(by_fold), n=1, cutoff=VALUE_CUTOFF)
    return by_fold[close[0]] if close else None


def _unknown_value(where: str, noun: str, value: str, known) -> str:
    """`where: unknown <noun> `value`; did you mean `x`?` (_closest of `known`, the table's names:
    scenario types, backends, presets, ...), or the known ones listed."""
    known = [str(k) for k in known]
    close = _closest(value, known)
    hint = f"did you mean `{close}`?" if close else f"known: {', '.join(known)}"
    return f"{where}: unknown {noun} `{value}`; {hint}"


def _scenario_key_messages(error, allowed: list[str]) -> list[str]:
    """A scenario's extra keys: a key of another scenario type does not apply to this one;
    any other is unknown, with the closest key of this type suggested."""
    kind = error.instance.get("type")
    extra = sorted(set(error.instance) - set(allowed))
    other = [k for k in extra if k in KEYS]
    problems = [_unknown_key(_key(error, k), k, allowed) for k in extra if k not in KEYS]
    if other:
        problems.append(
            f"{_where(error)}: {', '.join(other)} {'does' if len(other) == 1 else 'do'} not apply to a {kind} "
            f"scenario (its keys: {', '.join(TYPES[kind].keys)})"
        )
    return problems


def load_schema() -> dict:
    """The whole config schema: the file, with scenario types and backend options filled in."""
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    schema["$defs"]["scenario"] = scenario_schema()
    # here, not in scenario_types: a change there reruns every run (each rule's code input)
    schema["$defs"]["scenario"]["properties"]["type"]["x-noun"] = "scenario type"
    schema["properties"]["backend_options"]["properties"] = {
        name: backends.schema_of(name) for name in backends.available()
    }
    schema["properties"]["models"]["additionalProperties"]["properties"]["weights"] = weights_schema()
    return schema


def weights_schema() -> dict:
    """JSON schema of `models.<m>.weights`: backend -> the quantized formats to run, from the
    table of llmbench.models.precision (a backend without formats is not a key)."""
    properties = {}
    for name in backends.available():
        formats = backends.weight_formats(name)
        if formats:
            properties[name] = {
                "type": "array",
                "uniqueItems": True,
                "items": {"enum": list(formats), "x-noun": f"{name} weight format"},
                "description": f"{name}'s weight formats to run besides the model dtype",
            }
    return {
        "description": "backend -> quantized weight formats, each one more run of every scenario",
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "default": {},
    }


def validate_config(
    config: dict,
    base_dir: str | Path = ".",
    tokenized_prompts: str | None = None,
    model_sources: str | None = None,
    token_cache: str | None = None,
) -> dict:
    """Return a validated copy of `config` with defaults filled in, or raise ConfigError listing
    every problem at once: the schema's and those of the checks it cannot express, together.
    `tokenized_prompts` (a path relative to `base_dir` with `{model}`, e.g. an earlier run's
    results/prompts/{model}.json) adds the check of the queries' token lengths; with
    `model_sources` (the acquired model folders, same form) changed queries are tokenized for it,
    their lengths kept in `token_cache` (same form, a JSON file) for the next validation."""
    config = copy.deepcopy(dict(config))
    schema = load_schema()
    _command_line_booleans(config, schema)
    validator = _with_defaults(Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    problems = list(
        dict.fromkeys(p for e in errors if e.validator not in ("if", "allOf") for p in _messages(e))
    )
    base_dir = Path(base_dir)
    read: dict[str, list[str]] = {}  # the queries, read once by the prompts check
    checks = [
        lambda: _expand_home(config) or [],
        lambda: _check_models(config["models"], base_dir),
        lambda: _check_backends(config),
        lambda: _check_weights(config),
        lambda: _check_scenarios(config, base_dir),
        lambda: _check_prompts(config["prompts"], base_dir, read),
        lambda: _check_reference(config["report"]["reference"], base_dir),
        lambda: _check_article(config["report"]["article"], base_dir),
    ]
    if tokenized_prompts is not None:
        paths = {"tokenized": tokenized_prompts, "sources": model_sources, "cache": token_cache}
        checks.append(lambda: _check_tokenized(config, read.get("queries"), base_dir, paths))
    shaped = not problems
    for check in checks:
        problems += _unless_misshapen(check, shaped)
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)))
    return config


def _unless_misshapen(check, shaped: bool) -> list[str]:
    """The problems `check()` finds. On a config the schema refused (`shaped` False) a check that
    meets a part of the wrong shape or type is left out: the schema's line names that part."""
    if shaped:
        return check()
    try:
        return check()
    except (KeyError, TypeError, AttributeError, ValueError, IndexError):
        return []


def _check_prompts(path: str, base_dir: Path, read: dict) -> list[str]:
    """The prompts file's problem, if any; its queries go to `read["queries"]` for the token check."""
    try:
        read["queries"] = read_queries(base_dir / path)
    except PromptsError as error:
        return [f"prompts: {error}"]
    return []


def _check_reference(reference: str | None, base_dir: Path) -> list[str]:
    if reference is not None and not (base_dir / reference / "summary.csv").is_file():
        return [f"report.reference: {reference} has no summary.csv (expected a results folder)"]
    return []


def _check_tokenized(config: dict, queries: list[str] | None, base_dir: Path, paths: dict) -> list[str]:
    """A query scenario whose longest query + output_tokens exceeds the model's context or a
    backend's token cap, from the queries an earlier run tokenized (`paths["tokenized"]` per
    model), or changed queries tokenized now with the acquired folder (`paths["sources"]`),
    their lengths cached in `paths["cache"]`: found before anything runs, so no good record is
    replaced by a failure (a first run's tokenize_prompts checks the same). `queries` None: the
    prompts file could not be read (the prompts check names it)."""
    if queries is None:
        return []

    def per_model(key: str, model: str) -> Path | None:
        return base_dir / paths[key].format(model=model) if paths.get(key) else None

    output_tokens = query_output_tokens(config["scenarios"])
    caps = backends.scenario_token_caps(config)
    return [
        problem
        for model in config["models"]
        for problem in tokenized_overflow(
            per_model("tokenized", model),
            queries,
            model,
            output_tokens,
            caps,
            per_model("sources", model),
            config["chat_template"],
            cache=per_model("cache", model),
        )
    ]


def _command_line_booleans(instance: dict, schema: dict) -> None:
    """`--config key=true` reaches the workflow as the string 'true' (Snakemake parses
    numbers, not booleans): read 'true'/'false' as booleans where the schema wants one; in place."""
    for name, subschema in schema.get("properties", {}).items():
        value = instance.get(name)
        if subschema.get("type") == "boolean" and isinstance(value, str):
            instance[name] = {"true": True, "false": False}.get(value.strip().lower(), value)
        elif isinstance(value, dict):
            _command_line_booleans(value, subschema)


def _expand_home(config: dict) -> None:
    """`~` and `~user` in the paths a user types (a local model, the prompts, the article,
    a reference run) mean a home folder, as in a shell; in place."""
    for model in config["models"].values():
        if model["source"] == "local" and isinstance(model.get("path"), str):
            model["path"] = os.path.expanduser(model["path"])
    config["prompts"] = os.path.expanduser(config["prompts"])
    for key in ("article", "reference"):
        if config["report"][key] is not None:
            config["report"][key] = os.path.expanduser(config["report"][key])


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
            problems.append(_unknown_value(f"{where}.preset", "preset", model["preset"], sorted(PRESETS)))
        if source == "local":
            try:
                check_local_model(base_dir / model["path"])
            except ModelSourceError as error:
                problems.append(f"{where}.path: {error}")
    return problems


def _names(value) -> list[str]:
    """The names of a list of names; none of a value of another type, which the schema's line
    names (a string `hf` is not split into backends `h` and `f`)."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _check_backends(config: dict) -> list[str]:
    known = backends.available()
    chosen = _names(config["backends"])
    problems = [_unknown_value("backends", "backend", name, known) for name in chosen if name not in known]
    reference = config["correctness"]["reference"]
    if isinstance(reference, str) and reference not in known:  # another type: the schema's line
        problems.append(_unknown_value("correctness.reference", "backend", reference, known))
    for name in chosen:
        if name in known:
            options = config["backend_options"].get(name, {})
            problems += [
                f"backend_options.{name}.{key}: must be {value!r} to run {name} (not set by default on purpose)"
                for key, value in backends.get_backend(name).required_options.items()
                if options.get(key) != value
            ]
            check = getattr(backends.get_backend(name).Options, "problems", None)
            if check is not None:
                problems += check(backends.make_options(name, options), f"backend_options.{name}")
    problems += [
        f"scenarios.{scenario}.backends: {name!r} is not among backends: {config['backends']}"
        for scenario, settings in config["scenarios"].items()
        if isinstance(settings, dict)
        for name in _names(settings.get("backends", []))
        if name not in chosen
    ]
    problems += [
        f"backend_options.{name}: no such backend among backends: {config['backends']}"
        if name in known
        else _unknown_value(f"backend_options.{name}", "backend", name, known)
        for name in config["backend_options"]
        if name not in chosen
    ]
    return problems


def _check_weights(config: dict) -> list[str]:
    """Each model's weights: backends that run, formats the device can run (`auto` resolved here)."""
    problems = []
    device = resolve_device(config["device"])
    for model, settings in config["models"].items():
        for name, formats in settings["weights"].items():
            where = f"models.{model}.weights.{name}"
            if name not in backends.available() or not backends.weight_formats(name):
                continue  # not a backend with weight formats: the schema's line names it
            if name not in config["backends"]:
                problems.append(f"{where}: {name!r} is not among backends: {config['backends']}")
                continue
            table = backends.weight_formats(name)
            problems += [
                f"{where}: {f} runs only on {', '.join(table[f].devices)}, and this run's device is {device}"
                for f in _names(formats)
                if f in table and device not in table[f].devices
            ]
    return problems


def model_context(model: dict, base_dir: Path) -> int | None:
    """The context length a model entry will have, where the config alone tells it."""
    if model["source"] == "synthetic" and model.get("preset") in PRESETS:
        return PRESETS[model["preset"]].max_position_embeddings
    if model["source"] == "local":
        path = base_dir / model["path"] / "config.json"
        try:
            config = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return config.get("max_position_embeddings") or config.get("seq_length")
    return None


def _check_scenarios(config: dict, base_dir: Path) -> list[str]:
    problems = []
    caps = backends.scenario_token_caps(config)
    for name, s in config["scenarios"].items():
        where = f"scenarios.{name}"
        if s["min_duration_s"] > s["max_duration_s"]:
            problems.append(
                f"{where}: min_duration_s {s['min_duration_s']} exceeds max_duration_s {s['max_duration_s']}"
            )
        if "input_tokens" not in s:
            continue
        length = s["input_tokens"] + s["output_tokens"]
        for model_name, model in config["models"].items():
            context = model_context(model, base_dir)
            if context and length > context:
                problems.append(
                    f"{where}: input_tokens + output_tokens = {length} exceeds the context of "
                    f"model {model_name} ({context})"
                )
        problems += [
            f"{where}: input_tokens + output_tokens = {length} exceeds {key} ({cap})"
            for key, cap in caps[name].items()
            if length > cap
        ]
    return problems


def _check_article(path: str | None, base_dir: Path) -> list[str]:
    if path is None:
        return []
    from .report.article import ArticleError, read_article

    try:
        read_article(base_dir / path)
    except ArticleError as error:
        return [f"report.article: {error}"]
    return []


def reproduce_command(
    cores: int, configfiles: list[str], config_args: list[str] = (), workdir: str = "."
) -> str:
    """The Snakemake command line of this run: its core count, config files (each shown relative
    to `workdir` when it lies inside it: Snakemake hands them over as absolute paths) and --config
    overrides ("key=value" as Snakemake's config_args give them), but those of keys that shape no
    output (how the command ends). Several files follow one --configfile: Snakemake keeps only
    the last of repeated --configfile flags."""
    shown = []
    for path in configfiles:
        relative = os.path.relpath(path, workdir)
        shown.append(path if relative.startswith("..") else relative)
    command = f"snakemake --cores {cores} --resources gpu=1"
    if shown:
        command += " --configfile " + " ".join(shlex.quote(c) for c in shown)
    shaping = [a for a in config_args if a.split("=", 1)[0].strip() not in _keys_shaping_no_output()]
    if shaping:
        command += " --config " + " ".join(shlex.quote(a) for a in shaping)
    return command


def _keys_shaping_no_output() -> set[str]:
    """Top-level keys the schema marks `x-shapes-no-output` (fail_on_failed_runs): left out of the
    report's command line, so that setting one on the command line reruns nothing."""
    properties = yaml.safe_load(SCHEMA_PATH.read_text())["properties"]
    return {key for key, schema in properties.items() if schema.get("x-shapes-no-output")}


# What Snakemake reads as a config file when a target follows --configfile: a workflow output
# JSON, known by its keys (a config file may have any name, in any folder, so neither decides).
OUTPUT_KEYS = {
    "run record": {"run", "status", "schema_version"},  # RunRecord.to_dict()
    "tokenized prompts": {"queries", "prompt_ids"},  # scripts/tokenize_prompts.py
    "model manifest": {"manifest_version", "files"},  # models.manifest
}


def _workflow_output(path: Path) -> bool:
    """Whether the file at `path` holds a mapping with the keys of a workflow output (OUTPUT_KEYS);
    False when it cannot be read (Snakemake read it, so it can) or holds anything else."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and any(keys <= data.keys() for keys in OUTPUT_KEYS.values())


def targets_read_as_config(configfiles: list[str], workdir: str | Path = ".") -> list[str]:
    """The `configfiles` that are targets Snakemake read as config files (it takes every word after
    --configfile for one): files whose content is a workflow output (a run record, tokenized
    prompts, a manifest: OUTPUT_KEYS), whatever their name or folder (`CFG.YAML`, `cfg.conf`,
    `logs/my.yaml` are config files). Each as the user typed it, relative to `workdir` where it
    lies inside it; a relative one is read relative to `workdir`."""
    return [
        _shown(str(f), str(workdir))
        for f in configfiles
        if _workflow_output(Path(workdir) / f)  # an absolute f stays itself
    ]


def targets_problem(targets: list[str], configfiles: list[str] = (), workdir: str | Path = ".") -> str:
    """What to say for `targets` read as config files, and what to type instead: the targets
    before the other `configfiles` (as given to Snakemake, shown relative to `workdir`)."""
    configs = [c for c in (_shown(str(f), str(workdir)) for f in configfiles) if c not in targets]
    words = " ".join(shlex.quote(t) for t in targets)
    lines = [f"`{t}` was read as a config file: put targets before --configfile" for t in targets]
    if not configs:
        return "\n".join([*lines, f"  (snakemake {words}: no config file is left to name)"])
    options = " ".join(f"--configfile {shlex.quote(c)}" for c in configs)
    files = " ".join(shlex.quote(c) for c in configs)
    way = f"  (snakemake {words} {options}, or end the config files with --: snakemake --configfile {files} -- {words})"
    return "\n".join([*lines, way])


# results/ is shared by every config; this stamp says whose runs it holds.
OWNER_FILE = "results/config-identity.json"
IDENTITY_KEYS = ("source", "preset", "seed", "path", "repo_id", "revision", "dtype")


def results_identity(config: dict, configfiles: list[str], workdir: str = ".", named: bool = True) -> dict:
    """What makes results/ one config's: its models (name -> the keys that say which checkpoint,
    in which dtype), the config files that named them (for the message, relative to `workdir`),
    and whether the command named them (`named` False: Snakemake fell back on the default
    config/config.yaml, which the message then calls the default, not a --configfile)."""
    models = {
        name: {k: _identity_value(k, model[k]) for k in IDENTITY_KEYS if model.get(k) is not None}
        for name, model in sorted(config["models"].items())
    }
    return {"models": models, "configfiles": [_shown(f, workdir) for f in configfiles], "named": named}


def _identity_value(key: str, value):
    """A local model's folder as one spelling (`~/../x` and `/x` are one folder); others as given."""
    return os.path.normpath(value) if key == "path" else value


def _models_text(models: dict, other: dict) -> str:
    """Model names; where both sides name the same models, each differing one with its identity
    (source, path, dtype, ...), so the message says what differs."""
    if set(models) != set(other):
        return ", ".join(models)
    return ", ".join(
        f"{name} ({', '.join(f'{k} {v}' for k, v in identity.items())})"
        for name, identity in models.items()
        if identity != other.get(name)
    )


def _shown(path: str, workdir: str) -> str:
    relative = os.path.relpath(path, workdir)
    return path if relative.startswith("..") else relative


def _files(identity: dict) -> str:
    """The config files as a shell would take them."""
    return " ".join(shlex.quote(f) for f in identity.get("configfiles", []))


def _origin(identity: dict) -> str:
    """Where an identity's config came from: `--configfile X` when its command named X, else
    `the default X` (a stamp written before `named` was recorded counts as named)."""
    return ("--configfile " if identity.get("named", True) else "the default ") + _files(identity)


def free_folder(base: str, workdir: str | Path = ".") -> str:
    """`base`, or `base-2`, `base-3`, ... the first that names nothing in `workdir` yet: a folder
    to move results/ to without `mv` putting it inside an existing one."""
    name, number = base, 1
    while os.path.lexists(Path(workdir) / name):
        number += 1
        name = f"{base}-{number}"
    return name


class UnreadableStamp(str):
    """What read_stamp gives for a stamp file it cannot read as JSON: the reason, as text."""


def read_stamp(path: str | Path = OWNER_FILE) -> object:
    """The JSON value of the stamp file at `path` (any value: owner_problem checks its shape), None
    when there is none, an UnreadableStamp saying why when it is not UTF-8 JSON (empty, cut) or
    cannot be read; never raises."""
    try:
        value = read_json(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return UnreadableStamp(f"not JSON: {error}" if isinstance(error, ValueError) else str(error))
    # None means no stamp: a file holding `null` is not that
    return UnreadableStamp("a JSON null, not an object") if value is None else value


def _stamp_flaw(stamp: object) -> str | None:
    """Why `stamp` is not a value results_identity() gives (None when it is one): `models` a
    non-empty object of model name -> {identity key: string or number}, `configfiles` (absent in
    older stamps) a list of file names, `named` (absent in older stamps) true or false."""
    if isinstance(stamp, UnreadableStamp):
        return str(stamp)
    if not isinstance(stamp, dict):
        return f"a JSON {type(stamp).__name__}, not an object"
    models = stamp.get("models")
    if not isinstance(models, dict) or not models:
        return "`models` is not an object of model names"
    for name, keys in models.items():
        if not isinstance(keys, dict) or not all(
            k in IDENTITY_KEYS and isinstance(v, (str, int, float)) for k, v in keys.items()
        ):
            return f"model `{name}` is not an object of {', '.join(IDENTITY_KEYS)}"
    files = stamp.get("configfiles", [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return "`configfiles` is not a list of file names"
    if not isinstance(stamp.get("named", True), bool):
        return "`named` is not true or false"
    return None


def owner_problem(stamp: object, identity: dict, workdir: str | Path = ".") -> str | None:
    """Why this config must not use results/ (None when it may): the stamp's models differ from
    this config's, so a summary, plots and report would mix two configs' runs; or this command
    named no config file (`identity["named"]` False: Snakemake fell back on config/config.yaml)
    while the results are another file's, so a plain `snakemake -n` or `--report` would plan the
    default config's summary over them. A config named on purpose with the same models shares
    the results (a rerun reruns what is stale). Says what to type: the folder to move results/
    to is one that does not exist in `workdir` (`mv` would move results/ into it). `stamp` is
    the stamp file's value (read_stamp), None when there is none; any other value than one
    results_identity gives (empty, `[]`, `"configfiles": "x.yaml"`) is named as not a stamp
    this workflow wrote, with what to do."""
    if stamp is None:
        return None
    flaw = _stamp_flaw(stamp)
    if flaw is not None:
        return (
            f"{OWNER_FILE} is not a stamp this workflow wrote ({flaw}): delete it if results/ holds "
            f"this config's runs (the next run writes it again); else move them away first: "
            f"mv results {free_folder('results-other', workdir)}"
        )
    theirs, ours = _files(stamp), _files(identity)
    if stamp.get("models") == identity["models"]:
        same_files = stamp.get("configfiles", identity["configfiles"]) == identity["configfiles"]
        if identity.get("named", True) or same_files:
            return None
        return (
            f"results/ holds the runs of {_origin(stamp)}; this command names no config, so it "
            f"would read the default {ours} and build its summary and report over them.\n"
            f"  To work on those results, add their config: --configfile {theirs}\n"
            f"  To run the default config on them (same models, its own scenarios): --configfile {ours}"
        )
    folder = free_folder("results-" + "-".join(stamp["models"]), workdir)
    ours_text = f"the default {ours}" if not identity.get("named", True) else ours
    return (
        f"results/ holds the runs of another config (models {_models_text(stamp['models'], identity['models'])}, "
        f"from {_origin(stamp)}); this command's config ({ours_text}) has models "
        f"{_models_text(identity['models'], stamp['models'])}, and mixing the two would give a report of neither.\n"
        f"  To work on those results, add their config: --configfile {theirs}\n"
        f"  To run this config, first move them away: mv results {folder}  "
        f"(or publish them: python -m llmbench.publish results docs/results ...)"
    )
