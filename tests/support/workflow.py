"""Running Snakemake on a copy of the workflow, for the end-to-end tests."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
RUN = ["--cores", "1", "--resources", "gpu=1"]


def snakemake(workdir, *args, check=True, timeout=900, env=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE")} | (env or {})
    done = subprocess.run(
        [*SNAKEMAKE, *args], cwd=workdir, capture_output=True, text=True, env=env, timeout=timeout
    )
    if check and done.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    return done


def planned_jobs(workdir, *args):
    """Rule -> job count of a dry run ({} when there is nothing to do)."""
    done = snakemake(workdir, "-n", *RUN, *args)
    text = done.stdout + done.stderr
    if "Nothing to be done" in text:
        return {}
    table = text.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}


def digests(folder):
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(Path(folder).rglob("*"))
        if p.is_file()
    }


def own_copy(finished: Path, destination: Path) -> Path:
    """A test's own copy of a finished workflow (results, metadata and all), mtimes kept."""
    shutil.copytree(finished, destination, symlinks=True)
    return destination


# Whether two strings leave different pixels in the page's font: a missing glyph
# is drawn as the same box whatever the character (private-use ones never have one).
DRAWS_DIFFERENTLY = """
const draw = (text) => {
  const canvas = document.createElement("canvas");
  canvas.width = 200; canvas.height = 40;
  const context = canvas.getContext("2d");
  context.font = "24px " + getComputedStyle(document.body).fontFamily;
  context.fillText(text, 0, 30);
  return canvas.toDataURL();
};
return draw(arguments[0]) !== draw(arguments[1]);
"""


def check_in_browser(report: Path, images: int, screenshots: str | None = None) -> None:
    """The HTML report in headless Chromium: no console error, every image decoded,
    Chinese glyphs really drawn, readable at 1280 px without sideways scrolling and at
    phone width (wide tables scroll inside themselves)."""
    from browser import open_page
    from conftest import REPO

    with open_page(report) as page:
        decoded = page.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0])"
        )
        assert len(decoded) == images and all(ok for _, ok in decoded), decoded
        assert page.execute_script(DRAWS_DIFFERENTLY, "环境信息", "\ue000\ue001\ue002\ue003"), (
            "Chinese text renders as missing-glyph boxes: no CJK font"
        )
        errors = [entry for entry in page.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
        for width in (1280, 390):
            page.set_window_size(width, 900)
            overflow = page.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (width, overflow)
            if width == 1280:  # every table fits a desktop page: none scrolls sideways inside itself
                wide = page.execute_script(
                    "return Array.from(document.querySelectorAll('table')).filter(t => t.scrollWidth > t.clientWidth + 1)"
                    ".map(t => t.rows[0].innerText.slice(0, 80))"
                )
                assert wide == [], wide
        if screenshots:
            out = REPO / "test-output"
            out.mkdir(exist_ok=True)
            height = page.execute_script("return document.body.scrollHeight")
            page.set_window_size(1280, height)
            page.save_screenshot(str(out / f"{screenshots}-desktop.png"))
            page.set_window_size(390, 844)
            page.save_screenshot(str(out / f"{screenshots}-phone.png"))
