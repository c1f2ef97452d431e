"""A rerun after a change reruns exactly what is stale: each test on its own copy."""

from pathlib import Path

import pytest
import yaml

from workflow import RUN, own_copy, planned_jobs, snakemake

pytestmark = pytest.mark.workflow
DEFAULT = yaml.safe_load((Path(__file__).resolve().parents[2] / "config/config.yaml").read_text())
# the default config's processes: every scenario runs every backend, `replicas` processes each
PER_BACKEND = sum(s.get("replicas", 1) for s in DEFAULT["scenarios"].values())
RUNS = len(DEFAULT["backends"]) * PER_BACKEND
DOWNSTREAM = {
    "collect_results": 1,
    "derive_tables": 1,
    "check_agreement": 1,
    "plot_scenario": 5,
    "plot_model": 1,
    "render_report": 1,
    "all": 1,
}


@pytest.fixture
def copy(finished, tmp_path):
    return own_copy(finished, tmp_path / "copy")


def write_config(copy, change):
    config = yaml.safe_load((copy / "config/config.yaml").read_text())
    change(config)
    (copy / "changed.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    return ["--configfile", "changed.yaml"]


def test_a_template_change_reruns_only_the_report(copy):
    template = copy / "report/templates/report.md.j2"
    template.write_text(template.read_text() + "\nchanged\n")
    assert planned_jobs(copy) == {"render_report": 1, "all": 1}


def test_the_same_config_with_keys_in_another_order_reruns_nothing(copy):
    path = copy / "config/config.yaml"
    config = yaml.safe_load(path.read_text())
    shuffled = {key: config[key] for key in reversed(list(config))}
    shuffled["scenarios"] = {name: dict(reversed(list(s.items()))) for name, s in config["scenarios"].items()}
    path.write_text(yaml.safe_dump(shuffled, sort_keys=False, allow_unicode=True))
    assert planned_jobs(copy) == {}
    # The scenarios' own order is the report's: reordering them reruns the report alone.
    shuffled["scenarios"] = dict(reversed(list(shuffled["scenarios"].items())))
    path.write_text(yaml.safe_dump(shuffled, sort_keys=False, allow_unicode=True))
    assert planned_jobs(copy) == {"render_report": 1, "all": 1}


def test_a_timeout_change_reruns_nothing(copy):
    path = copy / "config/config.yaml"
    config = yaml.safe_load(path.read_text())
    path.write_text(
        yaml.safe_dump(
            {**config, "timeout_s": 77, "convert_timeout_s": 99}, sort_keys=False, allow_unicode=True
        )
    )
    assert planned_jobs(copy) == {}


def test_leaving_a_backend_out_of_a_scenario_reruns_no_benchmark(copy):
    args = write_config(copy, lambda c: c["scenarios"]["sweep-batch"].update(backends=["fastllm"]))
    jobs = planned_jobs(copy, *args)
    assert "run_benchmark" not in jobs and jobs["collect_results"] == 1 and jobs["render_report"] == 1


def test_a_benchmark_parameter_change_reruns_its_runs_and_downstream_only(copy):
    args = write_config(copy, lambda c: c["scenarios"]["loop"].update(output_tokens=12))
    assert planned_jobs(copy, *args) == {"run_benchmark": 3 * 3, **DOWNSTREAM}


def test_a_dry_run_shows_only_the_setting_that_changed(copy):
    """Each run setting is its own param: the reason line names the changed one, not every setting twice."""
    args = write_config(copy, lambda c: c["scenarios"]["loop"].update(output_tokens=12))
    text = snakemake(copy, "-n", *RUN, *args).stdout
    reasons = [line for line in text.splitlines() if "Params have changed" in line]
    assert len(reasons) == 3 * 3, reasons  # the loop's runs, not the report's
    for reason in reasons:
        assert "'scenario'" in reason and "'output_tokens': 12" in reason, reason
        assert not any(other in reason for other in ("backend_options", "cpu_threads", "sample_period_s")), (
            reason
        )


def test_another_replica_runs_only_the_new_processes(copy):
    args = write_config(copy, lambda c: c["scenarios"]["loop"].update(replicas=4))
    assert planned_jobs(copy, *args) == {"run_benchmark": 3, **DOWNSTREAM}


@pytest.mark.parametrize(
    "module, expected",
    [
        ("src/llmbench/measure/sampler.py", {"run_benchmark": RUNS, **DOWNSTREAM}),
        ("src/llmbench/report/conclusion.py", {"render_report": 1, "all": 1}),
        ("src/llmbench/report/plots/model.py", {"plot_model": 1, "render_report": 1, "all": 1}),
        (
            "src/llmbench/models/weights.py",
            {"describe_model": 1, "derive_tables": 1, "plot_model": 1, "render_report": 1, "all": 1},
        ),
        (
            "src/llmbench/models/flm_export.py",
            {"convert_fastllm": 1, "run_benchmark": PER_BACKEND, **DOWNSTREAM},
        ),
        (
            "src/llmbench/models/gguf_export/plans.py",
            {"convert_llamacpp": 1, "run_benchmark": PER_BACKEND, **DOWNSTREAM},
        ),
        ("src/llmbench/backends/_llamacpp_engine.py", {"run_benchmark": PER_BACKEND, **DOWNSTREAM}),
    ],
)
def test_editing_a_module_reruns_the_rules_that_import_it(copy, module, expected):
    path = copy / module
    path.write_text(path.read_text() + "\n# changed\n")
    assert planned_jobs(copy) == expected


def test_the_language_reruns_the_plots_and_the_report(copy):
    args = write_config(copy, lambda c: c["report"].update(language="en"))
    assert planned_jobs(copy, *args) == {"plot_scenario": 5, "plot_model": 1, "render_report": 1, "all": 1}


def test_other_prompts_rerun_only_the_runs_that_send_them(copy):
    """fixed and sweep send random ids of their own length: new queries do not touch them."""
    (copy / "config/other.txt").write_text("另一个问题？\n", encoding="utf-8")
    args = write_config(copy, lambda c: c.update(prompts="config/other.txt"))
    assert planned_jobs(copy, *args) == {"tokenize_prompts": 1, "run_benchmark": 2 * 3 * 3, **DOWNSTREAM}


def test_a_plain_command_after_another_config_file_plans_nothing_over_its_results(copy):
    """After `--configfile other.yaml` (same models), a dry run or `--report` without --configfile
    would read config/config.yaml and rebuild its summary over other.yaml's runs: refused, naming it."""
    args = write_config(copy, lambda c: c["report"].update(language="en"))
    snakemake(copy, *RUN, *args)
    for plain in (["-n", *RUN], ["--report", "report.html"]):
        done = snakemake(copy, *plain, check=False)
        assert done.returncode == 1 and "add their config: --configfile changed.yaml" in done.stderr, (
            done.stderr
        )
        assert "Traceback" not in done.stderr
    assert not (copy / "report.html").exists()
    assert planned_jobs(copy, *args) == {}
    assert planned_jobs(copy, "--configfile", "config/config.yaml") == {
        "plot_scenario": 5,
        "plot_model": 1,
        "render_report": 1,
        "all": 1,
    }
