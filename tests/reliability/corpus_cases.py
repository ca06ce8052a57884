"""The malformed-case corpus: every file in corpus/ with the error it must give.

Each corpus file starts with comment lines

    # checks: what the case is about
    # expect: <key path> | <fragment> | <fragment> ...
    # pending: <the schema change it waits for>      (optional: a known gap, xfail strict)

A file that cannot carry such a header (the empty file) is described in corpus/_expect.toml.
The key path must appear in the message as "<path>: " and every fragment verbatim.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"


@dataclass(frozen=True)
class Bad:
    path: Path
    checks: str
    key: str
    fragments: tuple[str, ...]
    pending: str | None = None

    @property
    def name(self) -> str:
        return self.path.stem


def _from_header(path: Path) -> Bad | None:
    head = {}
    # latin-1 decodes any bytes: the binary case keeps its header readable
    for line in path.read_bytes().decode("latin-1").splitlines()[:5]:
        for tag in ("checks", "expect", "pending"):
            if line.startswith(f"# {tag}:"):
                head[tag] = line.split(":", 1)[1].strip()
    if "expect" not in head:
        return None
    key, *fragments = [p.strip() for p in head["expect"].split(" | ")]
    return Bad(path, head.get("checks", ""), key, tuple(fragments), head.get("pending"))


def corpus() -> list[Bad]:
    sidecar = tomllib.loads((CORPUS / "_expect.toml").read_text())
    out = []
    for path in sorted(CORPUS.glob("*.toml")):
        if path.name.startswith("_"):
            continue
        bad = _from_header(path)
        if bad is None:
            e = sidecar[path.stem]  # KeyError: a corpus file without expectations
            bad = Bad(path, e["checks"], e["path"], tuple(e["fragments"]), e.get("pending"))
        out.append(bad)
    return out


def check_message(msg: str, bad: Bad) -> None:
    """One line naming the key path, the value (or 'missing') and what was expected.

    A key ending in '*' ("rf.drive*") accepts that key or any key below it (for pending
    cases, whose fix may land on the section or on the field).
    """
    assert "\n" not in msg and "\r" not in msg, msg
    assert "Traceback" not in msg, msg
    below = r"(?:[.\[][^:]*)?" if bad.key.endswith("*") else ""
    m = re.search(rf"(?:^|: ){re.escape(bad.key.rstrip('*'))}{below}: (.*)$", msg)
    assert m, f"key path {bad.key!r} not in: {msg}"
    after = m.group(1)
    assert after.startswith(("got ", "missing; ")), f"no value in: {msg}"
    assert "; expected " in after, f"no expectation in: {msg}"
    for fragment in bad.fragments:
        assert fragment in msg, f"{fragment!r} not in: {msg}"
