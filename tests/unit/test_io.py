"""The files every stage writes: whole or not at all, and as readable as open() makes them."""

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmbench.io import read_json, write_json_atomic


@given(mask=st.integers(0, 0o777), replace=st.booleans())
@settings(max_examples=30, deadline=None)
def test_an_atomic_write_has_the_mode_open_gives_under_the_umask(tmp_path_factory, mask, replace):
    """A run record, prompts file or manifest is 0o666 less the umask (0o644 under 0o022), as a
    file open() creates, not tempfile's owner-only 0o600; a rewrite too."""
    folder = tmp_path_factory.mktemp("io")
    path = folder / "sub" / "record.json"
    path.parent.mkdir()  # under the test's umask: the mask below decides the files alone
    if replace:
        write_json_atomic(path, {"old": 1})
    earlier = os.umask(mask)
    try:
        write_json_atomic(path, {"run": "tiny/hf/loop/0"})
        with open(folder / "by-open.json", "w"):
            pass
    finally:
        os.umask(earlier)
    mode = path.stat().st_mode & 0o777
    assert mode == 0o666 & ~mask == (folder / "by-open.json").stat().st_mode & 0o777
    path.chmod(0o644)  # readable again whatever the mask took away
    assert read_json(path) == {"run": "tiny/hf/loop/0"}
    assert [p.name for p in path.parent.iterdir()] == ["record.json"]  # no temporary file left


def test_a_failed_write_leaves_the_old_content_and_no_temporary_file(tmp_path):
    path = Path(tmp_path) / "record.json"
    write_json_atomic(path, {"old": 1})
    with pytest.raises(ValueError):
        write_json_atomic(path, {"nan": float("nan")})
    assert read_json(path) == {"old": 1} and [p.name for p in tmp_path.iterdir()] == ["record.json"]
