"""One figure's frame: the femsim style (journal column width, vector text, no dates in
the files), a figure of stacked axes, finishing and atomic saving. Every plot module
draws into these."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib as mpl
from matplotlib.figure import Figure

from femsim import variables as registry
from femsim.postprocess.axes import tidy
from femsim.results import atomic_path

#: one journal column, inches
COLUMN_WIDTH = 3.4
FORMATS = ("png", "pdf")

STYLE = {
    "font.size": 8,
    "axes.labelsize": 8,
    "axes.titlesize": 8,
    "legend.fontsize": 6.5,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "legend.frameon": False,
    "savefig.dpi": 300,
    # vector output keeps text as text (editable, searchable)
    "pdf.fonttype": 42,
    "svg.fonttype": "none",
    # deterministic SVG ids so re-running a case gives identical files
    "svg.hashsalt": "femsim",
}

# Dated metadata would make every re-run differ byte-wise.
_METADATA = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}


def style():
    """Context manager applying the femsim plot style (a local rc context)."""
    return mpl.rc_context(STYLE)


def save(fig: Figure, path_stem, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write ``fig`` as ``path_stem.<fmt>`` for each format (png, pdf, svg); atomic."""
    stem = Path(path_stem)
    if stem.suffix.lstrip(".") in ("png", "pdf", "svg"):
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    with style():
        tidy(fig)
        for fmt in formats:
            target = stem.with_name(f"{stem.name}.{fmt}")
            with atomic_path(target) as tmp:
                fig.savefig(tmp, format=fmt, metadata=_METADATA.get(fmt), bbox_inches="tight")
            written.append(target)
    return written


def figure_grid(rows: int = 1, height: float = 2.5, sharex: bool = True):
    """A column-wide figure of ``rows`` stacked axes; returns (figure, axes array)."""
    fig = Figure(figsize=(COLUMN_WIDTH, height * (1 if rows == 1 else 0.75 * rows)),
                 layout="constrained")
    axes = fig.subplots(rows, 1, sharex=sharex, squeeze=False)[:, 0]
    return fig, axes


def finish(fig: Figure, path, formats) -> Figure:
    """Tidy ``fig`` in the femsim style; save it when ``path`` is given."""
    with style():
        tidy(fig)
    if path is not None:
        save(fig, path, formats)
    return fig


def axis_label(name: str, unit: str) -> str:
    """"dI/dV [mS]": the registry's display name with the unit actually drawn."""
    return f"{registry.label(name)} [{unit}]"
