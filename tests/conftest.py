import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """The `tiny` synthetic model, built once per test session (real builder)."""
    from llmbench.models.presets import get_preset
    from llmbench.models.synthetic import build_synthetic_model

    folder = tmp_path_factory.mktemp("models") / "tiny"
    build_synthetic_model(folder, get_preset("tiny"), seed=0, dtype="float32")
    return folder


@pytest.fixture(scope="session")
def chatglm2_tiny(tmp_path_factory) -> Path:
    """A random checkpoint in ChatGLM2's own format (config keys, tensor names, ids)."""
    from llmbench.models.presets import get_preset
    from llmbench.models.synthetic import build_synthetic_model

    folder = tmp_path_factory.mktemp("models") / "chatglm2-tiny"
    build_synthetic_model(folder, get_preset("chatglm2-tiny"), seed=0, dtype="float32")
    return folder


@pytest.fixture(scope="session")
def tiny_prompt_ids(tiny_model, tmp_path_factory) -> Path:
    from llmbench.prompts import encode_queries, read_queries

    queries = read_queries(REPO / "config/prompts/article_zh.txt")
    path = tmp_path_factory.mktemp("prompts") / "tiny.json"
    path.write_text(json.dumps({"queries": queries, "prompt_ids": encode_queries(tiny_model, queries)}))
    return path


def copy_workflow(destination: Path) -> Path:
    """The workflow's tracked and untracked-but-not-ignored files, as a fresh clone has them."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


# `make faults`: every test marked `fault` or `bad_input` is one case; the summary
# line counts the cases that passed (setup errors and skips count as not passed).
_CASES: dict[str, dict[str, bool]] = {"fault": {}, "bad_input": {}}


def pytest_runtest_logreport(report):
    for kind, cases in _CASES.items():
        if kind not in report.keywords:
            continue
        if report.when == "call":
            cases[report.nodeid] = report.passed
        elif report.failed or report.skipped:
            cases[report.nodeid] = False


def pytest_terminal_summary(terminalreporter):
    faults, bad = _CASES["fault"], _CASES["bad_input"]
    if faults or bad:
        terminalreporter.write_line(
            f"faults survived: {sum(faults.values())}/{len(faults)}, "
            f"bad inputs rejected clearly: {sum(bad.values())}/{len(bad)}"
        )
