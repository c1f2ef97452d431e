import copy
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

from llmbench.backends import get_backend
from llmbench.config import ConfigError, validate_config

# `--configfile X` means "run X": Snakemake would merge X into config/config.yaml,
# so a GPU config would inherit the default's tiny model and scenarios.
if workflow.config_settings.configfiles:
    config.clear()
    config.update(copy.deepcopy(dict(workflow.config_settings.overwrite_config)))
CONFIG_FILES = [
    str(f) for f in workflow.config_settings.configfiles
] or workflow.configfiles

try:
    config.update(validate_config(config, "."))
except ConfigError as error:
    raise WorkflowError(str(error)) from None

MODELS = config["models"]
BACKENDS = config["backends"]
SCENARIOS = config["scenarios"]

# Hub tokens reach jobs only as environment variables, never as params.
HUB_TOKEN_VARIABLES = sorted(
    {m["token_env"] for m in MODELS.values() if m.get("token_env")}
)
if HUB_TOKEN_VARIABLES:

    envvars:
        *HUB_TOKEN_VARIABLES,


def _one_of(names):
    return "|".join(re.escape(name) for name in names)


wildcard_constraints:
    model=_one_of(MODELS),
    backend=_one_of(BACKENDS),
    scenario=_one_of(SCENARIOS),
    dtype="float32|float16|bfloat16",


def workflow_file(relative):
    """A file shipped with the workflow (template, module), declared as input
    where its change must rerun a rule; relative to the working directory."""
    return os.path.relpath(Path(workflow.basedir) / relative)


def package_file(relative):
    return workflow_file(f"src/llmbench/{relative}")


def scenario_runs(models):
    """Run records of every model x backend x scenario, where a scenario may name
    only some of the backends."""
    return [
        f"results/runs/{model}/{backend}/{scenario}.json"
        for model in models
        for backend in BACKENDS
        for scenario, settings in SCENARIOS.items()
        if backend in settings.get("backends", BACKENDS)
    ]


def run_outputs():
    return scenario_runs(MODELS)


def model_run_outputs(wildcards):
    return scenario_runs([wildcards.model])


def agreement_outputs():
    return expand("results/agreement/{model}.csv", model=MODELS)


def manifest_outputs():
    return expand("resources/models/{model}/manifest.json", model=MODELS)


def plot_outputs():
    return expand("results/plots/{scenario}.png", scenario=SCENARIOS) + expand(
        "results/plots/{model}/{figure}.png",
        model=MODELS,
        figure=["latency", "memory", "resources"],
    )


def reference_summary():
    """The reference run's summary.csv, when report.reference names one."""
    reference = config["report"]["reference"]
    return [] if reference is None else [os.path.join(reference, "summary.csv")]


def final_outputs():
    return ["results/summary.csv", "results/report.md", "results/report.html"]


def acquisition_settings(wildcards):
    """Only the keys that shape the acquired files, so e.g. a timeout change reruns nothing."""
    model = MODELS[wildcards.model]
    keys = {
        "synthetic": ("source", "preset", "seed", "dtype"),
        "local": ("source", "path"),
        "hub": ("source", "repo_id", "revision", "token_env"),
    }[model["source"]]
    return {key: model.get(key) for key in keys}


# The modules that turn an acquired checkpoint into what a backend loads.
PREPARE_CODE = [
    package_file(f"models/{name}")
    for name in ("prepare.py", "chatglm2.py", "shards.py")
]


def builder_code(wildcards):
    """A synthetic model is rebuilt when the code that draws it changes; a
    downloaded or local one is not fetched again for a code change."""
    if MODELS[wildcards.model]["source"] != "synthetic":
        return []
    modules = ("synthetic.py", "presets.py", "chatglm2.py", "shards.py", "tokenizer.py")
    return [package_file(f"models/{name}") for name in modules]


def backend_artifact(wildcards):
    model = wildcards.model
    return {
        "fastllm": f"resources/models/{model}/fastllm-{MODELS[model]['dtype']}.flm",
        "hf": f"resources/models/{model}/hf",
        "source": f"resources/models/{model}/source",
    }[get_backend(wildcards.backend).artifact_kind]


def benchmark_code(wildcards):
    """The modules that shape a run's numbers: their change reruns the runs."""
    backend_module = f"backends/{wildcards.backend.replace('-', '_')}.py"
    return [
        package_file(m)
        for m in (backend_module, "backends/base.py", "scenarios.py", "worker.py")
    ]


def canonical(value):
    """`value` with every mapping's keys sorted: Snakemake compares params as text,
    so keys merely written in another order in the YAML must not rerun jobs."""
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def run_settings(wildcards):
    """Everything that shapes a run's numbers; a change to any of it reruns that run."""
    return canonical(
        {
            "model": wildcards.model,
            "backend": wildcards.backend,
            "scenario_name": wildcards.scenario,
            # which backends run a scenario does not change any one run's numbers
            "scenario": {
                key: value
                for key, value in SCENARIOS[wildcards.scenario].items()
                if key != "backends"
            },
            "device": config["device"],
            "dtype": MODELS[wildcards.model]["dtype"],
            "cpu_threads": config["cpu_threads"],
            "backend_options": config["backend_options"].get(wildcards.backend, {}),
            "sample_period_s": config["sample_period_s"],
        }
    )


def minutes(seconds):
    return max(1, math.ceil(seconds / 60))
