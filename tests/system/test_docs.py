"""What a reader is pointed at is in the repository."""

import json
import re
import subprocess

import pytest

from conftest import REPO
from llmbench.publish import device_slug

DOCS = ["README.md", "config/README.md", "docs/design.md"]


def tracked(path: str) -> bool:
    done = subprocess.run(
        ["git", "ls-files", "--", path], cwd=REPO, capture_output=True, text=True, check=True
    )
    return bool(done.stdout.strip())


@pytest.mark.parametrize("doc", DOCS)
def test_every_file_a_document_links_to_is_tracked(doc):
    """docs/results/h100 was once linked and quoted, yet in no commit: .gitignore's
    `results/` also matched docs/results/, and `git add` skipped it without a word."""
    text = (REPO / doc).read_text()
    links = {m for m in re.findall(r"\]\(([^)#: ]+)\)", text) if not m.startswith("http")}
    base = (REPO / doc).parent
    missing = [link for link in sorted(links) if not tracked(str((base / link).resolve().relative_to(REPO)))]
    assert missing == [], missing


def test_the_ignore_file_ignores_only_top_level_outputs():
    done = subprocess.run(
        [
            "git",
            "check-ignore",
            "--no-index",
            "-v",
            "docs/results/h200/summary.csv",
            "docs/results/h200/runs/m/hf/loop/0.json",
            "results/summary.csv",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    ignored = {line.split("\t")[1] for line in done.stdout.splitlines()}
    assert ignored == {"results/summary.csv"}


@pytest.mark.parametrize(
    "name, slug",
    [
        ("NVIDIA H200", "h200"),
        ("NVIDIA GeForce RTX 3090", "geforce-rtx-3090"),
        ("cpu", "cpu"),
        ("NVIDIA H100 80GB HBM3", "h100-80gb-hbm3"),
    ],
)
def test_a_results_folder_is_named_after_the_measured_device(name, slug):
    assert device_slug(name) == slug


def test_a_published_result_holds_the_report_and_each_models_manifest(tmp_path):
    from llmbench.publish import publish

    results, resources = tmp_path / "results", tmp_path / "resources"
    files = {
        "device/bandwidth.json": '{"name": "NVIDIA H200"}',
        "summary.csv": "model\n",
        "report.md": "# r\n",
        "runs/m/hf/loop/0.json": "{}",
        "models/m.json": "{}",
        "tables/roofline.csv": "x\n",
    }
    for name, text in files.items():
        (results / name).parent.mkdir(parents=True, exist_ok=True)
        (results / name).write_text(text)
    (resources / "models/m").mkdir(parents=True)
    (resources / "models/m/manifest.json").write_text('{"sha256": "ab"}')
    (resources / "models/other").mkdir()
    (resources / "models/other/manifest.json").write_text("{}")  # a model this run did not use
    target = publish(results, tmp_path / "docs", "snakemake ...", 12.5)
    assert target == tmp_path / "docs/h200"
    for name, text in files.items():
        assert (target / name).read_text() == text
    assert [p.name for p in (target / "manifests").iterdir()] == ["m.json"]
    assert (target / "manifests/m.json").read_text() == '{"sha256": "ab"}'
    assert json.loads((target / "run.json").read_text()) == {
        "command": "snakemake ...",
        "wall_s": 12.5,
        "device": "NVIDIA H200",
        "code_commit": None,
        "package_versions_not_pinned": {},
    }
