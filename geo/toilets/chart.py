"""The renovation progress chart: cumulative accepted counts by month, as a PNG file.

Drawn with matplotlib's object-oriented API on its Agg canvas (no pyplot, no
global state), so a web worker can draw charts in parallel threads. Labels are
in the language of the ``translate`` argument (a gettext function; English
without one), the series named as :data:`geo.vocabulary.TOILET_ACTIONS_DONE`
names them on the pages. Text that needs a CJK font is drawn with the first
one installed (Debian's ``fonts-noto-cjk``, WenQuanYi, SimHei…); without any,
such text falls back to English rather than showing empty boxes.

Examples
--------
>>> from geo.toilets.progress import progress_over_time
>>> progress_chart(progress_over_time(db), "progress.png")  # doctest: +SKIP
PosixPath('progress.png')
>>> from webmap.i18n import catalogue  # doctest: +SKIP
>>> progress_chart(progress_over_time(db), "进度.png",
...                translate=catalogue("zh").gettext)  # doctest: +SKIP
"""

from functools import lru_cache
from pathlib import Path

from geo import vocabulary
from geo.errors import N_, InputError, Problem
from geo.toilets.records import ACTIONS

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "Source Han Sans CN",
             "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei")
TITLE = N_("Toilet renovation: accepted, cumulative by month")
Y_LABEL = N_("accepted (cumulative)")
NOTHING_YET = N_("nothing accepted yet")
COLOURS = {"demolish": "#c0392b", "convert": "#2e86c1", "new_build": "#27ae60"}


@lru_cache(maxsize=1)
def _cjk_font():
    """Path of an installed CJK font, or None."""
    from matplotlib import font_manager

    by_name = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    return next((by_name[n] for n in CJK_FONTS if n in by_name), None)


def progress_chart(progress, path, title=None, width_px=1000, height_px=500, translate=None):
    """Draw ``progress`` (:func:`geo.toilets.progress.progress_over_time`) as a PNG at ``path``.

    One line per action (demolished, converted, new-built), a point per month:
    the cumulative number accepted by the end of that month. ``path`` is a file
    name or a binary file object (e.g. ``io.BytesIO`` for a web response); it
    is returned. ``translate`` (a gettext function) gives the labels' language;
    the title is also written into the PNG's ``Title`` text chunk.
    """
    fig, words = progress_figure(progress, title, width_px, height_px, translate)
    target = path if hasattr(path, "write") else Path(path)
    fig.savefig(target, format="png", metadata={"Title": words["title"]})
    return target


def progress_figure(progress, title=None, width_px=1000, height_px=500, translate=None):
    """The chart as a matplotlib ``Figure`` and the words drawn on it (a dict of
    ``title y none`` and one per action), for :func:`progress_chart`."""
    if not isinstance(progress, dict) or not {"months", "cumulative"} <= set(progress):
        raise InputError(Problem("parameter.invalid", N_(
            "progress must be the dict that geo.toilets.progress.progress_over_time returns")))
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    words = _words(translate, title)
    font_path = _cjk_font()
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
    ax.set_title(words["title"], fontproperties=font)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig, words


def _words(translate, title):
    """The chart's texts through ``translate``; English where a CJK text has no font."""
    english = {"title": title or TITLE, "y": Y_LABEL, "none": NOTHING_YET,
               **vocabulary.TOILET_ACTIONS_DONE}
    words = {k: translate(v) if translate and not (k == "title" and title) else v
             for k, v in english.items()}
    if _cjk_font() is None:
        words = {k: v if v.isascii() else english[k] for k, v in words.items()}
    return words
