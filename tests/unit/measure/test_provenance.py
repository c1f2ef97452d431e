"""Where and with what a result was produced."""

import re

from conftest import REPO, copy_workflow
from llmbench import __version__
from llmbench.measure import provenance


def test_provenance_names_versions_commit_and_machine():
    record = provenance.collect(REPO)
    for package in ("llmbench", "torch", "transformers", "ftllm", "snakemake", "nvidia-ml-py"):
        assert record["packages"][package], package
    assert record["packages"]["llmbench"] == __version__
    assert re.fullmatch(r"[0-9a-f]{40}", record["workflow"]["commit"])
    assert isinstance(record["workflow"]["dirty"], bool)
    assert record["cpu"] and record["python"].startswith("3.")
    assert record["gpus"] == []  # no GPU on this machine
    assert provenance.git_state("/")["commit"] is None  # not a checkout: null, no exception


def test_the_version_is_known_without_installing_the_package():
    """The report header once read "llmbench None" where the package was not installed."""
    import tomllib

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"]["attr"] == "llmbench.__version__"
    assert provenance.package_versions(("llmbench",)) == {"llmbench": __version__}


def test_the_code_digest_identifies_the_code_where_git_cannot(tmp_path):
    """A copied tree without .git (as on a lent GPU) still says which code ran."""
    copy = copy_workflow(tmp_path / "copy")
    state = provenance.git_state(copy)
    assert state["commit"] is None and state["code_sha256"] == provenance.code_digest(REPO)
    rule = copy / "rules/report.smk"
    rule.write_text(rule.read_text() + "\n")
    assert provenance.code_digest(copy) != state["code_sha256"]
