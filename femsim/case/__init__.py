"""Case files: TOML, validated against a strict schema, units resolved to SI at load.

`load_case(path)` returns a `Case` or raises `CaseError` with a one-line message naming
the key path, the value given and what was expected (suggesting the nearest valid key
for a misspelt one). Case files are data: nothing in them is evaluated or imported.
"""

from __future__ import annotations

import difflib
import tomllib
import typing
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from ..errors import CaseError
from .base import QList, StrictModel
from .lumped import Lumped
from .rf import RF

SCHEMA_VERSION = 1


class Environment(StrictModel):
    """The sample's surroundings."""

    T_bath: QList("temperature", positive=True,
                  description="bath temperature, or a list of them for a family of curves")


class Outputs(StrictModel):
    """What `femsim run` writes besides the curves."""

    plots: bool = Field(True, description="write PNG (and vector) plots")
    formats: list[Literal["png", "pdf", "svg"]] = Field(["png", "pdf"], min_length=1,
                                                        description="plot file formats")


class Case(StrictModel):
    """One simulation."""

    schema_version: Literal[1] = Field(description="case-file schema version (1)")
    title: str = Field("", description="short title used in plots and the report")
    description: str = Field("", description="free text")
    study: Literal["lumped", "rf"] = Field(description="study kind: lumped (Newton self-heating), rf "
                                           "(transmission line + Tien-Gordon)")
    environment: Environment
    lumped: Lumped | None = None
    rf: RF | None = None
    outputs: Outputs = Outputs()

    @model_validator(mode="after")
    def _study_section(self):
        if getattr(self, self.study) is None:
            raise CaseError(self.study, CaseError.MISSING, f"a [{self.study}] section for study = {self.study!r}")
        if self.lumped is not None:
            _check_lumped(self.lumped, self.environment.T_bath)
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


def _model_at(loc) -> type[BaseModel] | None:
    """The schema model that owns the last key of ``loc`` (for key suggestions)."""
    model: type[BaseModel] | None = Case
    for part in loc[:-1]:
        if model is None or isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = _find_model(field.annotation)
    return model


def _find_model(tp):
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in typing.get_args(tp):
        m = _find_model(arg)
        if m is not None:
            return m
    return None


def _format(err: dict, source: str) -> CaseError:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
    path = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[") or "(top level)"
    kind, msg, value = err["type"], err["msg"], err.get("input")
    if kind == "extra_forbidden":
        model = _model_at(loc)
        names = list(model.model_fields) if model else []
        near = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.5)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        return CaseError(path, value, f"no such key (valid keys here: {', '.join(names)}){hint}", source)
    if kind == "missing":
        return CaseError(path, CaseError.MISSING, "this key is required", source)
    if kind == "too_short":
        return CaseError(path, value, "a non-empty list", source)
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "literal_error":
        msg = msg.replace("Input should be", "one of")
    return CaseError(path, value, msg, source)


def parse_case(data: dict, source: str = "<case>", base_dir: Path | None = None) -> Case:
    """Validate a case dict (as read from TOML)."""
    if isinstance(data, dict) and data.get("schema_version") not in (None, SCHEMA_VERSION):
        raise CaseError("schema_version", data.get("schema_version"), f"{SCHEMA_VERSION}", source)
    try:
        return Case.model_validate(data, context={"base_dir": base_dir})
    except CaseError as e:  # raised by cross-field checks, which know their key path
        raise CaseError(e.path, e.value, e.expected, source) from None
    except ValidationError as e:
        errors = e.errors(include_url=False)
        # a misspelt key also makes the real one "missing": report the misspelling
        errors.sort(key=lambda err: err["type"] != "extra_forbidden")
        raise _format(errors[0], source) from None


def load_case(path) -> Case:
    """Read and validate a case file; table paths resolve relative to its directory."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise CaseError("(file)", str(path), f"a readable TOML case file ({e.__class__.__name__})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CaseError("(syntax)", str(e), "valid TOML", str(path)) from None
    return parse_case(data, str(path), path.parent.resolve())


__all__ = ["Case", "load_case", "parse_case", "SCHEMA_VERSION"]
