"""Figures for the report, in the report's language, drawn from the same tables as its numbers.

- :mod:`.scenario`  bars of each scenario's means with 95 % CIs; a sweep's curves;
- :mod:`.model`     per model: latency distributions, memory over time, resources.
"""

from __future__ import annotations

import logging

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib import font_manager  # noqa: E402

# Fonts with CJK glyphs, as Debian (fonts-wqy-zenhei, fonts-noto-cjk) and macOS name them.
CJK_FONTS = [
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "PingFang SC",
    "Microsoft YaHei",
    "SimHei",
]
DPI = 110


def setup(language: str) -> None:
    """Seaborn's theme, with a font that draws Chinese first when the language needs it."""
    sns.set_theme(style="whitegrid")
    if language != "zh":
        return
    available = _cjk_fonts()
    if not available:
        logging.getLogger("llmbench").warning(
            "no CJK font found (install fonts-wqy-zenhei): Chinese labels will be drawn as boxes"
        )
    plt.rcParams["font.sans-serif"] = available + list(plt.rcParams["font.sans-serif"])
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["axes.unicode_minus"] = False
    plt.rcParams["mathtext.fontset"] = "dejavusans"  # tick labels such as 10^-3 keep their glyphs


def _cjk_fonts() -> list[str]:
    """CJK fonts matplotlib knows; fonts installed after its font cache was built are added."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    if not any(name in installed for name in CJK_FONTS):
        for path in font_manager.findSystemFonts():
            if any(mark in path.lower() for mark in ("wqy", "cjk", "sourcehan", "source-han")):
                font_manager.fontManager.addfont(path)
        installed = {f.name for f in font_manager.fontManager.ttflist}
    return [name for name in CJK_FONTS if name in installed]


def save(fig, path: str) -> None:
    """Save `fig` to `path` (tight layout, 110 dpi) and close it; legends set outside
    the axes are kept in the picture."""
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def not_measured(ax, title: str, why: str) -> None:
    """An empty panel titled `title` that says `why` it shows nothing."""
    ax.set(title=title, xticks=[], yticks=[])
    ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, color="dimgray", wrap=True)
