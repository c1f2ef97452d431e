"""Every configuration the schema accepts, with any mix of run outcomes, reaches a report.

Configs are drawn from the scenario-type table (the schema's own source) and validated
by the real config check; run records are built through llmbench.record. The report
(Markdown and HTML) must render for all of them; the figures for a smaller sample.
"""

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import REPO
from llmbench.config import ConfigError, validate_config
from llmbench.record import RunId, RunKey
from llmbench.scenario_types import KEYS, TYPES, Scenario
from records import record, render_all

BACKENDS = ["hf", "fastllm", "hf-compile"]


def value_of(key: str, schema: dict):
    """A small value the key's JSON schema accepts."""
    if key == "concurrency":
        return st.lists(st.sampled_from([1, 2, 3, 4, 8]), min_size=1, max_size=3, unique=True)
    if key == "output_tokens":
        return st.integers(2, 4)
    if key == "rates":
        return st.lists(st.sampled_from([0.5, 1, 2, 4]), min_size=1, max_size=3, unique=True)
    if key == "slo":
        return st.fixed_dictionaries(
            {"ttft_ms": st.sampled_from([5, 500]), "tpot_ms": st.sampled_from([1, 50])}
        )
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    if "boolean" in kinds:
        return st.booleans()
    if "integer" in kinds:
        low = schema.get("minimum", 0)
        return st.integers(low, low + 3) | (st.none() if "null" in kinds else st.nothing())
    if "number" in kinds:
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        return st.floats(low + 0.5, low + 3) | (st.none() if "null" in kinds else st.nothing())
    raise AssertionError(f"no strategy for {key}: {schema}")


@st.composite
def scenario_settings(draw, backends):
    kind = draw(st.sampled_from(sorted(TYPES)))
    settings = {"type": kind}
    for key in TYPES[kind].keys:
        if key in (
            "min_duration_s",
            "max_duration_s",
            "warmup_passes",
            "repetitions",
            "target_ci_pct",
            "backends",
        ):
            continue  # how a run measures, not what its record looks like; backends are drawn below
        if draw(st.booleans()):
            settings[key] = draw(value_of(key, KEYS[key][0]))
    if draw(st.booleans()) and len(backends) > 1:
        settings["backends"] = draw(st.lists(st.sampled_from(backends), min_size=1, unique=True))
    settings["output_tokens"] = settings.get("output_tokens", 3)
    settings["requests"] = (
        min(settings.get("requests", 2), 3) if kind in ("fixed", "open-loop") else settings.get("requests")
    )
    settings = {k: v for k, v in settings.items() if v is not None or k == "target_ci_pct"}
    return settings


MANIFESTS = {
    "synthetic": {
        "source": {"source": "synthetic", "preset": "tiny", "seed": 0, "dtype": "float32"},
        "details": {},
    },
    "local": {"source": {"source": "local", "path": "/home/me/model"}, "details": {"path": "/home/me/model"}},
    "hub": {
        "source": {"source": "hub", "repo_id": "org/model", "revision": "v1", "token_env": None},
        "details": {"repo_id": "org/model", "revision": "v1"},
    },
}


@st.composite
def runs(draw):
    backends = draw(st.lists(st.sampled_from(BACKENDS), min_size=1, max_size=3, unique=True))
    scenarios = draw(st.lists(scenario_settings(backends), min_size=1, max_size=3))
    config = {
        "models": {"m": {"source": "synthetic", "preset": "tiny"}},
        "backends": backends,
        "scenarios": {f"s{i}": s for i, s in enumerate(scenarios)},
    }
    try:
        config = validate_config(config, REPO)
    except (
        ConfigError
    ) as error:  # a combination the config check refuses (it says why) is not a report's problem
        assume(False, str(error))
    parsed = {name: Scenario.from_dict(s) for name, s in config["scenarios"].items()}
    gpu, energy = draw(st.booleans()), draw(st.booleans())
    records = []
    for name, s in parsed.items():
        for backend in s.backends or backends:
            for replica in range(s.replicas):
                status = draw(st.sampled_from(["ok", "ok", "ok", "invalid", "failed"]))
                rec = record(
                    backend,
                    name,
                    s,
                    status=status,
                    replica=replica,
                    gpu=gpu,
                    energy=energy,
                    speed=draw(st.floats(0.5, 4)),
                    seed=replica,
                )
                if rec.resources and draw(st.booleans()):
                    rec.resources.nvml_errors = {
                        "compute_processes": "nvmlDeviceGetComputeRunningProcesses failed"
                    }
                records.append(rec)
    return {
        "records": records,
        "scenarios": parsed,
        "gpu": gpu,
        "language": draw(st.sampled_from(["zh", "en"])),
        "article": draw(st.booleans()),
        "reference_backend": draw(st.sampled_from(BACKENDS)),
        "with_reference": draw(st.booleans()),
        "source": draw(st.sampled_from(sorted(MANIFESTS))),
    }


def render(case, folder: Path, plots: bool):
    reference = None
    if case["with_reference"]:
        from llmbench.analyze.summary import summary_table

        reference = ("docs/results/earlier", summary_table(copy.deepcopy(case["records"])))
    bandwidth = (
        None
        if not case["gpu"]
        else {
            "device": "cuda",
            "available": True,
            "name": "NVIDIA Test GPU",
            "uuid": "GPU-test",
            "bytes_per_s": 4e12,
            "context_bytes": 5e8,
        }
    )
    out = render_all(
        case["records"],
        folder,
        case["scenarios"],
        case["language"],
        case["reference_backend"],
        case["article"],
        reference,
        plots=plots,
        bandwidth=bandwidth,
        manifest=MANIFESTS[case["source"]],
    )
    md = out["md"]
    assert md.startswith("# ") and "Traceback" not in md and "{" not in md.split("\n", 1)[0]
    html = out["html"].read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count("<table") >= 3
    for r in case["records"]:
        if r.status == "failed":
            assert str(r.run) in md, r.run
    return out


@pytest.mark.slow
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(runs())
def test_every_config_and_outcome_renders_a_report(tmp_path_factory, case):
    render(case, tmp_path_factory.mktemp("r"), plots=False)


@pytest.mark.slow
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(runs())
def test_and_its_figures(tmp_path_factory, case):
    out = render(case, tmp_path_factory.mktemp("r"), plots=True)
    assert all(p.stat().st_size > 10_000 for p in out["plots"])


@pytest.mark.slow
def test_a_local_model_without_a_preset_renders(tmp_path):
    """The models table once required a preset: a user's own folder broke the report."""
    from records import scenario

    s = scenario("fixed", output_tokens=3, requests=1)
    out = render_all(
        [record("hf", "fixed", s), record("fastllm", "fixed", s)],
        tmp_path,
        {"fixed": s},
        "en",
        manifest=MANIFESTS["local"],
    )
    assert "| local (/home/me/model) |" in out["md"]


def test_run_ids_in_records_are_the_ones_written(tmp_path):
    rec = record(
        "hf",
        "loop",
        Scenario.from_dict(
            validate_config(
                {
                    "models": {"m": {"source": "synthetic", "preset": "tiny"}},
                    "scenarios": {"loop": {"type": "loop"}},
                },
                REPO,
            )["scenarios"]["loop"]
        ),
        replica=2,
    )
    assert rec.run == RunId(RunKey("tiny", "hf", "loop"), 2)
    assert json.loads(json.dumps(rec.to_dict()))["run"] == "tiny/hf/loop/2"
