"""The example cases shipped with femsim (`femsim cases`): listed, and copied into a
folder of the user's with the data and mesh files they reference.

They live in the repository's ``cases/`` folder, which is package data of femsim
(``femsim/cases`` is a symlink to it, resolved when the wheel is built), so that a
non-editable install finds them through importlib.resources like an editable one.
"""

from __future__ import annotations

import importlib.resources
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import CaseError


def cases_dir() -> Path:
    """The folder of the bundled case files, wherever femsim is installed."""
    return Path(str(importlib.resources.files("femsim") / "cases"))


@dataclass(frozen=True)
class Bundled:
    name: str          # file stem, what `femsim cases copy NAME` takes
    path: Path
    description: str  # the case's title, else the first line of its leading comment


def _description(text: str) -> str:
    try:
        title = tomllib.loads(text).get("title")
    except tomllib.TOMLDecodeError:
        title = None
    if isinstance(title, str) and title.strip():
        return title.strip()
    for line in text.splitlines():
        if line.startswith("#") and line.lstrip("# ").strip():
            return line.lstrip("# ").strip()
    return ""


def bundled_cases() -> list[Bundled]:
    """Every bundled case, sorted by name."""
    return [Bundled(p.stem, p, _description(p.read_text(encoding="utf-8")))
            for p in sorted(cases_dir().glob("*.toml"))]


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def referenced_files(case_path: Path) -> list[str]:
    """Paths (relative to the case's folder) of the files a case names, such as R(T)
    tables and external meshes: every string value of the case that is a file beside it.
    The case's own schema knows which keys are paths, but the copy must also follow keys
    added later; a title that happens to name a file would only be copied along."""
    root = case_path.parent.resolve()
    out = []
    for s in _strings(tomllib.loads(case_path.read_text(encoding="utf-8"))):
        if not s or "\n" in s or len(s) > 255:
            continue
        p = (root / s)
        try:
            inside = p.resolve().is_relative_to(root) and p.is_file()
        except (OSError, ValueError):
            continue
        if inside and s not in out and p.resolve() != case_path.resolve():
            out.append(s)
    return out


def find(name: str) -> Bundled:
    stem = name[:-5] if name.endswith(".toml") else name
    for b in bundled_cases():
        if b.name == stem:
            return b
    raise CaseError("cases copy", name, "the name of a bundled case: " + ", ".join(b.name for b in bundled_cases()))


def copy_case(name: str, dest=".") -> list[Path]:
    """Copy the bundled case ``name`` and the files it references into the folder
    ``dest`` (made if missing), keeping their relative paths so that the copy runs as it
    is. Nothing is overwritten: if any target exists with other content, nothing is
    copied (CaseError); one with the same bytes (a data table two cases share) is kept."""
    b = find(name)
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise CaseError("cases copy DEST", str(dest), "a folder (made if missing), not a file")
    pairs = [(b.path, dest / b.path.name)] + [(b.path.parent / rel, dest / rel) for rel in referenced_files(b.path)]
    same = {t for s, t in pairs if t.is_file() and not t.is_symlink() and t.read_bytes() == s.read_bytes()}
    pairs = [(s, t) for s, t in pairs if t not in same]
    there = [str(t) for _, t in pairs if t.exists() or t.is_symlink()]
    if there:
        raise CaseError("cases copy", str(there[0]), "a target that does not exist yet (femsim never overwrites "
                        f"a file of yours; remove it or copy to another folder){'' if len(there) == 1 else f'; {len(there)} of the {len(pairs)} files exist'}")
    for src, tgt in pairs:
        tgt.parent.mkdir(parents=True, exist_ok=True)
        with open(src, "rb") as f, open(tgt, "xb") as g:   # "x": a file made meanwhile is not replaced
            shutil.copyfileobj(f, g)
    return [t for _, t in pairs]
