"""The renovation progress chart: cumulative accepted counts by month, as a PNG file.

Drawn with matplotlib's object-oriented API on its Agg canvas (no pyplot, no
global state), so a web worker can draw charts in parallel threads. Labels are
Chinese when a CJK font is installed (Debian's ``fonts-noto-cjk``, WenQuanYi,
SimHei…), English otherwise, so the chart never shows empty boxes.

Examples
--------
>>> from geo.toilets.progress import progress_over_time
>>> progress_chart(progress_over_time(db), "progress.png")  # doctest: +SKIP
PosixPath('progress.png')
"""

from functools import lru_cache
from pathlib import Path

from geo.errors import N_, InputError, Problem
from geo.toilets.records import ACTIONS

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "Source Han Sans CN",
             "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei")
LABELS = {
    "zh": {"demolish": "拆除", "convert": "改造", "new_build": "新建",
           "title": "厕所革命进度（按验收月份累计）", "y": "累计验收数", "none": "尚无验收记录"},
    "en": {"demolish": "demolished", "convert": "converted", "new_build": "new-built",
           "title": "Toilet renovation: accepted, cumulative by month",
           "y": "accepted (cumulative)",
           "none": "nothing accepted yet"},
}
COLOURS = {"demolish": "#c0392b", "convert": "#2e86c1", "new_build": "#27ae60"}


@lru_cache(maxsize=1)
def _cjk_font():
    """Path of an installed CJK font, or None."""
    from matplotlib import font_manager

    by_name = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    return next((by_name[n] for n in CJK_FONTS if n in by_name), None)


def progress_chart(progress, path, title=None, width_px=1000, height_px=500):
    """Draw ``progress`` (:func:`geo.toilets.progress.progress_over_time`) as a PNG at ``path``.

    One line per action (demolished, converted, new-built), a point per month:
    the cumulative number accepted by the end of that month. ``path`` is a file
    name or a binary file object (e.g. ``io.BytesIO`` for a web response); it
    is returned.
    """
    if not isinstance(progress, dict) or not {"months", "cumulative"} <= set(progress):
        raise InputError(Problem("parameter.invalid", N_(
            "progress must be the dict that geo.toilets.progress.progress_over_time returns")))
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    font_path = _cjk_font()
    words = LABELS["zh" if font_path else "en"]
    font = FontProperties(fname=font_path) if font_path else FontProperties()
    fig = Figure(figsize=(width_px / 100, height_px / 100), dpi=100)
    ax = fig.subplots()
    months = progress["months"]
    if months:
        x = range(len(months))
        for action in ACTIONS:
            ax.plot(x, progress["cumulative"][action], color=COLOURS[action], linewidth=2,
                    marker="o", markersize=3, label=words[action])
        step = max(1, len(months) // 12)
        ax.set_xticks(list(x)[::step], months[::step], rotation=45, ha="right")
        ax.set_xlim(-0.5, len(months) - 0.5)
        ax.legend(prop=font, loc="upper left")
    else:
        ax.text(0.5, 0.5, words["none"], ha="center", va="center", transform=ax.transAxes,
                fontproperties=font)
    ax.set_ylim(bottom=0)
    ax.set_ylabel(words["y"], fontproperties=font)
    ax.set_title(title or words["title"], fontproperties=font)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    target = path if hasattr(path, "write") else Path(path)
    fig.savefig(target, format="png")
    return target
