"""Hub acquisition through huggingface_hub's real download code, against a local stand-in."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO
from hub_standin import HubStandIn

COMMIT = "0123456789abcdef0123456789abcdef01234567"
SECRET = "hf_planted_secret_token_4242"


def acquire_in_child(endpoint, model, folder, extra_env=None):
    """Run acquisition as the rule does: in its own process, HF_ENDPOINT pointing at the stand-in."""
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from llmbench.models.acquire import acquire; from llmbench.models.manifest import build_manifest;"
        "m = json.loads(sys.argv[2]); d = acquire(m, sys.argv[3]);"
        "print(json.dumps(build_manifest(sys.argv[3], m, d)))"
    )
    env = {
        **os.environ,
        "HF_ENDPOINT": endpoint,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HOME": str(folder.parent / "hf-home"),
        **(extra_env or {}),
    }
    return subprocess.run(
        [sys.executable, "-c", code, str(REPO / "src"), json.dumps(model), str(folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_hub_snapshot_is_downloaded_at_the_pinned_revision(tiny_model, tmp_path):
    model = {
        "source": "hub",
        "repo_id": "llmbench/tiny",
        "revision": "v1",
        "token_env": "LLMBENCH_TEST_TOKEN",
    }
    with HubStandIn("llmbench/tiny", tiny_model, {"v1": COMMIT, COMMIT: COMMIT}) as hub:
        child = acquire_in_child(hub.endpoint, model, tmp_path / "hf", {"LLMBENCH_TEST_TOKEN": SECRET})
    assert child.returncode == 0, child.stderr
    manifest = json.loads(child.stdout.strip().splitlines()[-1])
    assert {f["path"] for f in manifest["files"]} == {p.name for p in tiny_model.iterdir()}
    original = {p.name: p.read_bytes() for p in tiny_model.iterdir()}
    assert all((tmp_path / "hf" / name).read_bytes() == data for name, data in original.items())
    assert manifest["details"] == {"repo_id": "llmbench/tiny", "revision": "v1"}
    # The token went to the hub, and nowhere else.
    assert f"Bearer {SECRET}" in hub.authorizations
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in child.stdout + child.stderr


@pytest.mark.bad_input
def test_a_bad_revision_fails_with_the_hubs_reason(tiny_model, tmp_path):
    model = {"source": "hub", "repo_id": "llmbench/tiny", "revision": "no-such-tag"}
    with HubStandIn("llmbench/tiny", tiny_model, {"v1": COMMIT}) as hub:
        child = acquire_in_child(hub.endpoint, model, tmp_path / "hf")
    assert child.returncode != 0
    assert "RevisionNotFoundError" in child.stderr or "Revision Not Found" in child.stderr
