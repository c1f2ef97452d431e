import math
import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

# The logic lives in the llmbench package beside this workflow; scripts and
# this file import it from there, so no install step is needed to run rules.
PACKAGE_SRC = Path(workflow.basedir) / "src"
sys.path.insert(0, str(PACKAGE_SRC))

from llmbench.backends import get_backend, make_options
from llmbench.codedeps import rule_code
from llmbench.config import (
    OWNER_FILE,
    ConfigError,
    owner_problem,
    read_stamp,
    reproduce_command,
    results_identity,
    targets_problem,
    targets_read_as_config,
    validate_config,
)
from llmbench.models.precision import bits_per_weight, formats_of
from llmbench.record import RunId, RunKey, runner_name, split_runner
from llmbench.scenario_types import Scenario

CONFIG_FILES = [
    str(f) for f in workflow.config_settings.configfiles
] or workflow.configfiles


def refuse(message):
    """Stop before anything runs with `message` alone: a user's mistake, not a workflow
    bug, so no Python frame of this file follows it."""
    print(message, file=sys.stderr)
    sys.exit(1)


# Snakemake reads every word after --configfile as a config file, targets included: one that is
# not there or not a YAML mapping stops Snakemake before this file runs (README says so); an
# existing JSON output (a run record) gets here, known by its keys.
_targets = targets_read_as_config(CONFIG_FILES)
if _targets:
    refuse(targets_problem(_targets, CONFIG_FILES))

try:
    # with the token lengths of the queries an earlier run tokenized: one round of problems
    config.update(
        validate_config(
            config,
            ".",
            tokenized_prompts="results/prompts/{model}.json",
            model_sources="resources/models/{model}/source",
            # changed queries' token lengths: the next parse (each job's) loads no tokenizer
            token_cache=".snakemake/llmbench/token-lengths/{model}.json",
        )
    )
except ConfigError as error:
    refuse(str(error))

MODELS = config["models"]
BACKENDS = config["backends"]
SCENARIOS = {name: Scenario.from_dict(s) for name, s in config["scenarios"].items()}

# One results/ per config: a run of another config's models is refused, saying what to type.
IDENTITY = results_identity(
    config, CONFIG_FILES, named=bool(workflow.config_settings.configfiles)
)
_owner = owner_problem(read_stamp(OWNER_FILE), IDENTITY)
if _owner:
    refuse(_owner)


# Hub tokens reach jobs only as environment variables, never as params.
HUB_TOKEN_VARIABLES = sorted(
    {m["token_env"] for m in MODELS.values() if m.get("token_env")}
)
if HUB_TOKEN_VARIABLES:

    envvars:
        *HUB_TOKEN_VARIABLES,


def _one_of(names):
    return "|".join(re.escape(name) for name in names)


def runners(model, backends):
    """`backends` of a scenario, each followed by its quantized runs of `model` (its weights)."""
    weights = MODELS[model]["weights"]
    return [
        runner_name(backend, w)
        for backend in backends
        for w in [None, *weights.get(backend, [])]
    ]


ALL_RUNNERS = sorted({r for model in MODELS for r in runners(model, BACKENDS)})


wildcard_constraints:
    model=_one_of(MODELS),
    runner=_one_of(ALL_RUNNERS),
    scenario=_one_of(SCENARIOS),
    replica=r"\d+",
    dtype="float32|float16|bfloat16",


def workflow_file(relative):
    """A file shipped with the workflow (template, module), declared as input
    where its change must rerun a rule; relative to the working directory."""
    return os.path.relpath(Path(workflow.basedir) / relative)


def get_code(rule_name, **fixed):
    """Input function: the package code `rule_name` runs (llmbench.codedeps), so that
    editing any module it imports reruns it."""

    def code(wildcards):
        values = dict(fixed)
        if "runner" in wildcards.keys():
            values["backend"] = split_runner(wildcards.runner)[0]
        return [workflow_file(path) for path in rule_code(rule_name, **values)]

    return code


def run_ids(models=None):
    """Every replica of every model x backend x scenario, where a scenario may name
    only some of the backends; in the order they run."""
    ids = [
        RunId(RunKey.of_runner(model, runner, name), replica)
        for model in (models or MODELS)
        for name, scenario in SCENARIOS.items()
        for runner in runners(model, scenario.backends or BACKENDS)
        for replica in range(scenario.replicas)
    ]
    return sorted(ids, key=run_order)


def run_order(run):
    """Replica k of every run before replica k+1 of any, so that drift over time hits
    every backend alike; within a replica, backends alternate direction (ABBA)."""
    key = run.key
    order = runners(key.model, SCENARIOS[key.scenario].backends or BACKENDS)
    position = order.index(key.runner)
    if run.replica % 2:
        position = len(order) - 1 - position
    return (
        run.replica,
        list(MODELS).index(key.model),
        list(SCENARIOS).index(key.scenario),
        position,
    )


RUN_ORDER = {run: index for index, run in enumerate(run_ids())}


def run_outputs():
    return [run.path() for run in RUN_ORDER]


def get_model_runs(wildcards):
    return [run.path() for run in run_ids([wildcards.model])]


def get_run_priority(wildcards):
    """Higher runs first: the order of run_order()."""
    run = RunId(
        RunKey.of_runner(wildcards.model, wildcards.runner, wildcards.scenario),
        int(wildcards.replica),
    )
    return -1 - RUN_ORDER[run]


def model_paths(pattern):
    return {model: pattern.format(model=model) for model in MODELS}


# Whether any model runs quantized weights: then the precision table, its plot and section.
PRECISION = any(m["weights"] for m in MODELS.values())


def precision_outputs():
    return ["results/tables/precision.csv"] if PRECISION else []


def plot_outputs():
    return (
        expand("results/plots/{scenario}.png", scenario=SCENARIOS)
        + expand(
            "results/plots/{model}/{figure}.png",
            model=MODELS,
            figure=["latency", "memory", "resources"],
        )
        + (["results/plots/precision.png"] if PRECISION else [])
    )


def reference_summary():
    """The reference run's summary.csv, when report.reference names one."""
    reference = config["report"]["reference"]
    return [] if reference is None else [os.path.join(reference, "summary.csv")]


def article_file():
    article = config["report"]["article"]
    return [] if article is None else [article]


def strings_files():
    return [workflow_file(f"report/strings/{config['report']['language']}.yaml")]


def final_outputs():
    judged = ["results/outcome-judged.txt"] if config["fail_on_failed_runs"] else []
    return ["results/summary.csv", "results/report.md", "results/report.html", *judged]


def acquisition_settings(wildcards):
    """Only the keys that shape the acquired files, so e.g. a timeout change reruns nothing."""
    model = MODELS[wildcards.model]
    keys = {
        "synthetic": ("source", "preset", "seed", "dtype"),
        "local": ("source", "path"),
        "hub": ("source", "repo_id", "revision", "token_env"),
    }[model["source"]]
    return {key: model.get(key) for key in keys}


def get_builder_code(wildcards):
    """A synthetic model is rebuilt when the code that draws it changes; a
    downloaded or local one is not fetched again for a code change."""
    if MODELS[wildcards.model]["source"] != "synthetic":
        return []
    return get_code("acquire_model")(wildcards)


def get_backend_artifact(wildcards):
    """The file a run loads: FastLLM's .flm in its weights (its conversion dtype), llama.cpp's
    GGUF in the model dtype, or that GGUF quantized by llama.cpp's quantizer."""
    model = wildcards.model
    backend, weights = split_runner(wildcards.runner)
    dtype = MODELS[model]["dtype"]
    gguf = f"llamacpp-{dtype}" + (f"-{weights}" if weights else "")
    return {
        "fastllm": f"resources/models/{model}/fastllm-{weights or dtype}.flm",
        "llamacpp": f"resources/models/{model}/{gguf}.gguf",
        "fastllm-input": f"resources/models/{model}/fastllm-input",
        "hf": f"resources/models/{model}/hf",
        "source": f"resources/models/{model}/source",
    }[get_backend(backend).artifact_kind]


def get_backend_env(wildcards):
    return f"../envs/{split_runner(wildcards.runner)[0]}.yaml"


def canonical(value):
    """`value` with every mapping's keys sorted: Snakemake compares params as text,
    so keys merely written in another order in the YAML must not rerun jobs."""
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def get_run_settings(wildcards):
    """Everything that shapes a run's numbers; a change to any of it reruns that run
    (not: which backends run the scenario, how many replicas, the timeout)."""
    backend, weights = split_runner(wildcards.runner)
    options = make_options(backend, config["backend_options"].get(backend, {}))
    dtype = MODELS[wildcards.model]["dtype"]
    return canonical(
        {
            "scenario": SCENARIOS[wildcards.scenario].measured_settings(),
            "device": config["device"],
            "dtype": dtype,
            "weights": weights,
            "bits_per_weight": bits_per_weight(
                get_backend(backend).artifact_kind, weights, dtype
            ),
            "cpu_threads": config["cpu_threads"],
            "backend_options": vars(options),
            "sample_period_s": config["sample_period_s"],
        }
    )


def run_setting(key):
    """A `run_benchmark` param holding one key of get_run_settings, as {key: value}:
    Snakemake prints a changed param's value alone, so a dry run names the setting that
    changed and shows nothing else (one `settings` param printed the whole dict twice).
    """

    def setting(wildcards):
        return {key: get_run_settings(wildcards)[key]}

    return setting


def timeout_seconds(key):
    return math.ceil(config[key])


def slurm_minutes(key):
    """A cluster's time limit for a job the launcher itself times out after `key`
    seconds: longer by a margin, so that the launcher, not the scheduler, ends a
    hung run and writes its failure record."""
    seconds = config[key]
    return math.ceil((seconds + max(120, 0.1 * seconds)) / 60)


def get_run_prompts(wildcards):
    """The tokenized queries, for a scenario that sends them: a scenario of random ids does
    not depend on them, so changing `prompts` reruns none of its runs."""
    if SCENARIOS[wildcards.scenario].kind.prompts == "queries":
        return f"results/prompts/{wildcards.model}.json"
    return []


def stamp_results():
    """onstart: results/ now holds this config's runs (see owner_problem)."""
    from llmbench.io import write_json_atomic

    os.makedirs("results", exist_ok=True)
    write_json_atomic(OWNER_FILE, IDENTITY)


def say_outcome():
    """onsuccess / onerror: the closing console lines (failed and invalid runs, prompt
    warnings). With fail_on_failed_runs, judge_outcome fails the workflow on such runs.
    """
    from llmbench.analyze.outcome import closing_lines, workflow_outcome

    existing = [path for path in run_outputs() if os.path.isfile(path)]
    outcome = workflow_outcome(existing, model_paths("results/prompts/{model}.json"))
    for line in closing_lines(outcome, "results/report.html"):
        print(line, file=sys.stderr)
