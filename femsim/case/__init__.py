"""Case files: TOML, validated against a strict schema, units resolved to SI at load.

`load_case(path)` returns a `Case` or raises `CaseError` with a one-line message naming
the key path, the value given and what was expected (suggesting the nearest valid key
for a misspelt one). Case files are data: nothing in them is evaluated or imported.
"""

from __future__ import annotations

import re
import tomllib
import typing
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from ..errors import CaseError
from . import base
from .base import T_SANE, IVFile, QList, StrictModel
from .lumped import Lumped
from .rf import RF
from .fem import Fem, GeometrySpec, MaterialSpec
from .transient import Hotspot, Transient, check_case

SCHEMA_VERSION = 1


class Environment(StrictModel):
    """The sample's surroundings."""

    T_bath: QList("temperature", positive=True, max=T_SANE,
                  description="bath temperature, or a list of them for a family of curves")


class MeasuredIV(StrictModel):
    """A measured I-V drawn over the computed curves (I-V, and R = V/I versus P = I V)."""

    file: IVFile = Field(description="CSV file with columns 'I [unit]' and 'V [unit]', relative to the case file")
    label: str = Field("measured", description="legend label")


class Outputs(StrictModel):
    """What `femsim run` writes besides the curves."""

    measured: list[MeasuredIV] = Field(default_factory=list, description="measured I-V curves to overlay")
    plots: bool = Field(True, description="write PNG (and vector) plots")
    formats: list[Literal["png", "pdf", "svg"]] = Field(["png", "pdf"], min_length=1,
                                                        description="plot file formats")


class Case(StrictModel):
    """One simulation."""

    schema_version: Literal[1] = Field(description="case-file schema version (1)")
    title: str = Field("", description="short title used in plots and the report")
    description: str = Field("", description="free text")
    study: Literal["lumped", "fem", "rf", "transient", "hotspot"] = Field(
        description="study kind: lumped (Newton self-heating), fem (3D electro-thermal), rf (transmission line + "
                    "Tien-Gordon), transient (pulsed bias, heating time constants), hotspot (bifurcation of the "
                    "uniform heating branch)")
    environment: Environment
    lumped: Lumped | None = None
    rf: RF | None = None
    geometry: GeometrySpec | None = Field(None, description="mesh builder and its parameters (fem study)")
    materials: dict[str, MaterialSpec] | None = Field(None, description="subdomain name -> material (fem study)")
    fem: Fem | None = None
    transient: Transient | None = None
    hotspot: Hotspot | None = None
    outputs: Outputs = Outputs()

    @model_validator(mode="after")
    def _study_section(self):
        if getattr(self, self.study) is None:
            raise CaseError(self.study, CaseError.MISSING, f"a [{self.study}] section for study = {self.study!r}")
        if self.lumped is not None:
            _check_lumped(self.lumped, self.environment.T_bath)
        if self.study == "fem":
            for key in ("geometry", "materials"):
                if getattr(self, key) is None:
                    raise CaseError(key, CaseError.MISSING, f"a [{key}] section for study = 'fem'")
            if self.fem.bias is None:
                raise CaseError("fem.bias", CaseError.MISSING, "a [fem.bias] section for study = 'fem'")
        if self.study in ("transient", "hotspot"):
            check_case(self)
        return self


def _check_lumped(sec, T_baths) -> None:
    if (sec.three_probe or sec.field) and len(T_baths) > 1:
        raise CaseError("environment.T_bath", T_baths, "a single bath temperature with lumped.three_probe or "
                        "lumped.field (each of those is a family already)")
    for name, R in [("lumped.R", sec.R)] + [(f"lumped.field.R[{k}]", r) for k, r in enumerate(sec.field.R
                                                                                              if sec.field else [])]:
        lo, hi = R.T_range
        for T_B in T_baths:
            if not lo <= T_B < sec.top(T_B) <= hi:
                raise CaseError("environment.T_bath", f"{T_B:g} K with the curve top at {sec.top(T_B):g} K",
                                f"both inside the range of {name}, {lo:g} K .. {hi:g} K, and the top above T_bath "
                                "(set lumped.T_top or lumped.P_max)")


def _models(tp) -> list[type[BaseModel]]:
    """Every schema model inside an annotation (through Optional, Union, list, Annotated)."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return [m for arg in typing.get_args(tp) for m in _models(arg)]


def _tags(model: type[BaseModel]) -> tuple:
    kind = model.model_fields.get("kind")
    return typing.get_args(kind.annotation) if kind is not None else ()


def _is_mapping(tp) -> bool:
    if typing.get_origin(tp) is dict:
        return True
    return typing.get_origin(tp) is not list and any(_is_mapping(a) for a in typing.get_args(tp))


def _walk(loc) -> tuple[tuple, list[type[BaseModel]], list[type[BaseModel]]]:
    """Clean a pydantic error location into case-file keys.

    Drops union-branch and validator segments ("bcs" of a tagged union, "function-after[...]");
    returns the keys, the models that may own the last key, and the models of the last key's
    value (for "a table with keys ...").
    """
    owners: list[type[BaseModel]] = [Case]
    here: list[type[BaseModel]] = [Case]
    out: list = []
    mapping = False  # the last key's value is a {name = table} mapping: the next part is a name
    for part in loc:
        if isinstance(part, int) or mapping:
            out.append(part)
            mapping = False
            continue
        fields = {name: f for m in here for name, f in m.model_fields.items()}
        if part in fields:
            out.append(part)
            owners, here = here, _models(fields[part].annotation)
            mapping = _is_mapping(fields[part].annotation)
            continue
        narrowed = [m for m in here if part in _tags(m) or m.__name__ in part]
        if narrowed or "[" in part or part.startswith("function-"):
            here = narrowed or here
            continue
        out.append(part)  # an unknown key
        owners, here = here, []
    return tuple(out), owners, here


def _model_at(loc) -> type[BaseModel] | None:
    """The schema model that owns the last key of ``loc`` (for key suggestions)."""
    _, owners, _ = _walk(loc)
    return owners[0] if owners else None


def _keys(models) -> list[str]:
    """The keys a case file may write in ``models`` (internal, excluded fields left out)."""
    return list(dict.fromkeys(name for m in models for name, f in m.model_fields.items() if not f.exclude))


def _one_line(text: str) -> str:
    return str(text).replace("\r", "\\r").replace("\n", "\\n")


class _Clip:
    """A value shown in an error, its repr cut to a readable length."""

    LIMIT = 160

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        try:
            r = repr(self.value)
        except Exception:  # e.g. too deeply nested
            r = f"<{type(self.value).__name__}>"
        return r if len(r) <= self.LIMIT else r[: self.LIMIT] + " ..."


def _error(path: str, value, expected: str, source) -> CaseError:
    value = value if value is CaseError.MISSING else _Clip(value)
    return CaseError(_one_line(path), value, _one_line(expected), source)


def _format(err: dict, source: str) -> CaseError:
    loc, owners, here = _walk(err["loc"])
    path = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[") or "(top level)"
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    if kind == "extra_forbidden":
        names = _keys(owners)
        return _error(path, value, base.no_such_key(loc[-1] if loc else "", names), source)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        key = str(ctx.get("discriminator", "kind")).strip("'\"")
        tags = [t for m in here for t in _tags(m)]
        choices = " or ".join(", ".join(repr(t) for t in tags).rsplit(", ", 1))
        if kind == "union_tag_not_found":
            return _error(f"{path}.{key}", CaseError.MISSING, f"one of {choices}", source)
        tag = value.get(key) if isinstance(value, dict) else ctx.get("tag")
        return _error(f"{path}.{key}", tag, f"one of {choices}{base.did_you_mean(tag, tags)}", source)
    if kind == "missing":
        return _error(path, CaseError.MISSING, "this key is required", source)
    keyed = ctx.get("error")
    if isinstance(keyed, base.KeyedValueError):
        return _error(f"{path}.{keyed.key}", keyed.value, keyed.expected, source)
    return _error(path, value, base.describe_error(err, _keys(here)), source)


#: type errors of a union branch: less telling than a deeper error in another branch
_TYPE_ERRORS = {"model_type", "dict_type", "list_type", "model_attributes_type", "string_type", "float_type",
                "int_type", "bool_type"}


def _pick(errors: list[dict]) -> dict:
    """The one error to report: a misspelt key first (it also makes the real one "missing"),
    then anything but a type mismatch of a union branch; type mismatches of all branches at
    the same key are merged ("a table with keys ... or a list")."""
    def rank(err):
        branch = any(isinstance(p, str) and ("[" in p or p.startswith("function-")) for p in err["loc"])
        return (err["type"] != "extra_forbidden", branch and err["type"] in _TYPE_ERRORS)
    errors = sorted(errors, key=rank)
    first = errors[0]
    if first["type"] in _TYPE_ERRORS:
        path = _walk(first["loc"])[0]
        same = [e for e in errors if e["type"] in _TYPE_ERRORS and _walk(e["loc"])[0] == path]
        if len(same) > 1:
            texts = [base.describe_error(e, _keys(_walk(e["loc"])[2])) for e in same]
            return {**first, "type": "value_error", "msg": " or ".join(dict.fromkeys(texts))}
    return first


def parse_case(data: dict, source: str = "<case>", base_dir: Path | None = None) -> Case:
    """Validate a case dict (as read from TOML)."""
    if isinstance(data, dict):
        if not data:
            raise _error("(top level)", CaseError.MISSING, f"a case: schema_version = {SCHEMA_VERSION}, study and "
                         "an [environment] section (the document is empty)", source)
        version = data.get("schema_version", SCHEMA_VERSION)
        if type(version) is not int or version != SCHEMA_VERSION:
            raise _error("schema_version", version, f"{SCHEMA_VERSION} (an integer; this femsim reads schema "
                         f"version {SCHEMA_VERSION} only)", source)
    try:
        return Case.model_validate(data, context={"base_dir": base_dir})
    except CaseError as e:  # raised by cross-field checks, which know their key path
        raise _error(e.path, e.value, e.expected, source) from None
    except ValidationError as e:
        raise _format(_pick(e.errors(include_url=False)), source) from None


#: largest case file read (a case is a page of TOML; tables belong in CSV files)
MAX_CASE_BYTES = 16 * 2**20

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def read_case(path) -> tuple[str, dict]:
    """The text of a case file and its TOML table, or a CaseError (the safe reader).

    The file must be a regular UTF-8 text file of at most MAX_CASE_BYTES (see
    `base.read_text_file`: no pipe, device or binary data); a TOML syntax error names its
    line. Shared by `femsim run`, `check` and `sweep`.
    """
    path = Path(path)
    try:
        text = base.read_text_file(path, "TOML case file", MAX_CASE_BYTES)
    except ValueError as e:
        raise _error("(file)", str(path), str(e), None) from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = _TOML_POSITION.search(msg)
        if m is None:
            raise _error("(syntax)", msg, "valid TOML", str(path)) from None
        line, column = int(m.group(1)), int(m.group(2))
        lines = text.split("\n")  # TOML counts \n only
        got = lines[line - 1].rstrip("\r") if 0 < line <= len(lines) else ""
        raise _error(f"(syntax, line {line})", got, f"valid TOML ({msg[:m.start()]} at column {column})",
                     str(path)) from None
    except RecursionError:
        raise _error("(syntax)", "deeply nested arrays or tables", "valid TOML of reasonable depth",
                     str(path)) from None


def load_case(path) -> Case:
    """Read (`read_case`) and validate a case file; table paths resolve relative to its
    directory."""
    path = Path(path)
    _, data = read_case(path)
    return parse_case(data, str(path), path.parent.resolve())


__all__ = ["Case", "load_case", "parse_case", "read_case", "SCHEMA_VERSION"]
