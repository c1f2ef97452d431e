"""publish: refuses code that is not the named commit's, and says which package versions were not the pins."""

import json
import subprocess

import pytest

from llmbench.measure.provenance import code_digest
from llmbench.publish import check_code, pinned_versions, versions_vs_pins


def _repo(tmp_path):
    repo = tmp_path / "repo"
    (repo / "src/llmbench").mkdir(parents=True)
    (repo / "src/llmbench/a.py").write_text("x = 1\n")
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["torch==2.13.0", "pandas==3.1.1"]\n'
        '[project.optional-dependencies]\ndev = ["pytest==9.2.0"]\n'
    )

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
        ).stdout

    git("init", "-q")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qam", "one", "--allow-empty")
    git("add", ".")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "two")
    first = git("rev-parse", "HEAD").strip()
    first_digest = code_digest(repo)
    (repo / "src/llmbench/a.py").write_text("x = 2\n")  # uncommitted: the code that ran
    return repo, first, first_digest, code_digest(repo)


def _records(tmp_path, provenance):
    results = tmp_path / "results"
    (results / "runs/m/hf/loop").mkdir(parents=True)
    (results / "runs/m/hf/loop/0.json").write_text(json.dumps({"provenance": provenance}))
    return results


def test_records_whose_code_is_not_the_named_commits_are_refused(tmp_path):
    """The H200 records named 813cbfd with uncommitted changes; their code was f400c0f's."""
    repo, commit, committed, edited = _repo(tmp_path)
    clean = _records(
        tmp_path / "a", {"workflow": {"commit": commit, "dirty": False, "code_sha256": committed}}
    )
    check_code(clean, repo, None)  # the code is the commit's: accepted
    dirty = _records(tmp_path / "b", {"workflow": {"commit": commit, "dirty": True, "code_sha256": edited}})
    with pytest.raises(ValueError, match="runs/m/hf/loop/0.json .*--commit"):
        check_code(dirty, repo, None)
    with pytest.raises(ValueError, match="cannot read commit"):
        check_code(dirty, repo, "0" * 40)
    check_code(_records(tmp_path / "c", {}), repo, None)  # nothing to check


def test_package_versions_that_differ_from_the_pins_are_said(tmp_path):
    repo, *_ = _repo(tmp_path)
    pins = pinned_versions(repo / "pyproject.toml")
    assert pins == {"torch": "2.13.0", "pandas": "3.1.1", "pytest": "9.2.0"}
    results = _records(tmp_path, {"packages": {"torch": "2.11.0", "pandas": "3.1.1", "ftllm": "1.9.0"}})
    assert versions_vs_pins(results, pins) == {"torch": {"ran": ["2.11.0"], "pinned": "2.13.0"}}
