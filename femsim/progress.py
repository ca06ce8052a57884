"""Progress bars for long runs: shown on a terminal, silent in logs and CI."""

from __future__ import annotations

import sys

from tqdm.auto import tqdm

from .errors import printable

#: set by the CLI: "quiet", "normal" or "verbose"
VERBOSITY = "normal"


def bar(iterable=None, total=None, desc: str = "", unit: str = "pt"):
    """A tqdm bar that stays quiet when stderr is not a terminal or --quiet was given."""
    disable = VERBOSITY == "quiet" or not sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable, leave=False)


def say(msg: str, level: str = "normal") -> None:
    """Print a status line unless quieter than ``level``."""
    order = {"quiet": 0, "normal": 1, "verbose": 2}
    if order[VERBOSITY] >= order[level]:   # (names from a case file: no terminal escapes)
        print("\n".join(printable(line) for line in str(msg).split("\n")), file=sys.stderr)
