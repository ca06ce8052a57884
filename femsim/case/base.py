"""Building blocks of the case schema: SI quantities with checked dimensions, property
specifications (constant, model, table), and strict models that reject unknown keys.

Quantities are parsed to SI floats at validation time (`Q("length")`); property specs are
turned into `femsim.properties.Property` objects, with table files resolved relative to
the case file (the directory comes in through the pydantic validation context).
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, ValidationError, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationInfo

from .. import properties as props
from ..units import UnitError, expected, factor, to_si


class StrictModel(BaseModel):
    """Unknown keys are errors (with the nearest valid key suggested by the loader)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


def _quantity(dimension: str):
    def parse(v):
        try:
            return to_si(v, dimension)
        except UnitError as e:
            raise ValueError(str(e)) from None
    return parse


def _positive(x: float) -> float:
    if not x > 0:
        raise ValueError("a positive value")
    return x


def _nonnegative(x: float) -> float:
    if not x >= 0:
        raise ValueError("a value >= 0")
    return x


def Q(dimension: str, *, positive: bool = False, nonnegative: bool = False, description: str = ""):
    """Annotated float type: a quantity string of ``dimension``, stored in SI."""
    checks = [AfterValidator(_positive)] if positive else [AfterValidator(_nonnegative)] if nonnegative else []
    return Annotated[float, BeforeValidator(_quantity(dimension)), *checks,
                     Field(description=description, json_schema_extra={"dimension": dimension})]


def _one_or_many(v):
    return v if isinstance(v, list) else [v]


def QList(dimension: str, *, positive: bool = False, nonnegative: bool = False, description: str = ""):
    """A quantity or a non-empty list of quantities (a family), stored as a list in SI."""
    item = Q(dimension, positive=positive, nonnegative=nonnegative)
    return Annotated[list[item], BeforeValidator(_one_or_many), Field(min_length=1, description=description,
                                                                      json_schema_extra={"dimension": dimension})]


# --------------------------------------------------------------------------- tables

_HEADER = re.compile(r"^\s*([^\[\]]+?)\s*(?:\[(.*)\])?\s*$")


def read_csv_columns(path: Path, columns: dict[str, str], optional_first: bool = False) -> dict[str, np.ndarray]:
    """Read named columns of a CSV file with units in its header ("T [K],R [Ohm]") into SI.

    ``columns`` maps a column name to its dimension; a name of None picks the column by
    position (first key: column 0, second: column 1). '#' lines are comments.
    """
    if not path.is_file():
        raise ValueError(f"a readable CSV file (not found: {path})")
    try:
        rows = [r for r in csv.reader(path.read_text().splitlines()) if r and not r[0].lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"a readable text CSV file ({e.__class__.__name__})") from None
    if len(rows) < 3:
        raise ValueError(f"a header row and at least 2 data rows in {path.name}")
    heads = [_HEADER.match(h) for h in rows[0]]
    names = [h.group(1) if h else h_raw.strip() for h, h_raw in zip(heads, rows[0])]
    units = [(h.group(2) or "") if h else "" for h in heads]
    out = {}
    for pos, (name, dimension) in enumerate(columns.items()):
        j = names.index(name) if name in names else (pos if name is None or (optional_first and pos == 0) else -1)
        if j < 0 or j >= len(names):
            raise ValueError(f"a column named {name!r} in {path.name} (columns: {', '.join(names)})")
        try:
            f = factor(units[j] or ("K" if dimension == "temperature" else ""), dimension)
        except UnitError as e:
            raise ValueError(f"the unit of column {names[j]!r} in the header of {path.name}: {e}") from None
        values = []
        for k, r in enumerate(rows[1:], start=2):
            try:
                values.append(float(r[j]))
            except (ValueError, IndexError):
                raise ValueError(f"numbers in row {k} of {path.name} (found {r!r})") from None
        values = np.array(values)
        if not np.all(np.isfinite(values)):
            raise ValueError(f"finite numbers in column {names[j]!r} of {path.name}")
        out[name] = values + 273.15 if units[j] == "degC" else values * f
    return out


def read_table_csv(path: Path, value_dimension: str, column: str | None = None):
    """A two-column property table: (T in K from the first column, values in SI)."""
    cols = read_csv_columns(path, {"T": "temperature", column: value_dimension}, optional_first=True)
    return cols["T"], cols[column]


def _table(T, values, interpolation, extrapolation, name):
    try:
        return props.Table(T, values, interpolation=interpolation, extrapolation=extrapolation, name=name)
    except ValueError as e:
        raise ValueError(str(e)) from None


class TableFile(StrictModel):
    table: str = Field(description="CSV file, relative to the case file; header 'T [K], R [Ohm]'")
    column: str | None = Field(None, description="name of the value column (default: the second)")
    interpolation: Literal["pchip", "linear"] = Field("pchip", description="monotone cubic (pchip) or linear")
    extrapolation: Literal["error", "constant", "linear"] = Field(
        "error", description="outside the table: error (default), hold the end value, or continue the end slope")


class TableInline(StrictModel):
    T: list[float] = Field(min_length=2, description="temperatures, in T_unit")
    values: list[float] = Field(min_length=2, description="property values, in unit")
    T_unit: str = Field("K", description="unit of T")
    unit: str = Field(description="unit of values, e.g. 'Ohm'")
    interpolation: Literal["pchip", "linear"] = "pchip"
    extrapolation: Literal["error", "constant", "linear"] = "error"


#: name -> (Property class, {parameter: dimension or "value" for the property's own})
MODELS = {
    "constant": (props.Constant, {"value": "value"}),
    "linear": (props.Linear, {"f0": "value", "alpha": "inverse_temperature", "T0": "temperature"}),
    "exponential": (props.Exponential, {"f0": "value", "beta": "inverse_temperature", "T0": "temperature"}),
    "arrhenius": (props.Arrhenius, {"f0": "value", "Ea": "temperature"}),
    "pseudogap": (props.Pseudogap, {"f_min": "value", "T_star": "temperature", "Delta": "temperature"}),
}


def _validate(model: type[BaseModel], spec: dict):
    """Validate a nested spec, re-raising its first error as one short line."""
    try:
        return model.model_validate(spec)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        where = ".".join(map(str, err["loc"]))
        raise ValueError(f"{where}: {err['msg']} (got {err.get('input')!r})") from None


def build_property(spec: Any, dimension: str, base_dir: Path | None, name: str = "property") -> props.Property:
    """Turn a case-file property spec into a Property (values in SI).

    Forms: "120 Ohm" (constant); {model = "pseudogap", f_min = "...", ...};
    {table = "rt.csv"}; {T = [...], values = [...], unit = "Ohm"}.
    """
    if isinstance(spec, props.Property):
        return spec
    if isinstance(spec, (str, int, float)) and not isinstance(spec, bool):
        return props.Constant(to_si(spec, dimension), name=name)
    if not isinstance(spec, dict):
        raise ValueError(f"{expected(dimension)}, a {{model = ...}} table, or a {{table = 'file.csv'}}")
    if "model" in spec:
        model = spec["model"]
        if model not in MODELS:
            raise ValueError(f"a model in {sorted(MODELS)} (got model = {model!r})")
        cls, params = MODELS[model]
        unknown = set(spec) - set(params) - {"model"}
        if unknown:
            raise ValueError(f"parameters {sorted(params)} for model {model!r} (unknown: {sorted(unknown)})")
        missing = set(params) - set(spec) - {"T0"}
        if missing:
            raise ValueError(f"parameters {sorted(params)} for model {model!r} (missing: {sorted(missing)})")
        kw = {}
        for p, dim in params.items():
            if p in spec:
                try:
                    kw[p] = to_si(spec[p], dimension if dim == "value" else dim)
                except UnitError as e:
                    raise ValueError(f"{p} = {spec[p]!r}: {e}") from None
        try:
            return cls(**kw, name=name) if model != "constant" else cls(kw["value"], name=name)
        except ValueError as e:
            raise ValueError(str(e)) from None
    if "table" in spec:
        t = _validate(TableFile, spec)
        path = Path(t.table)
        path = path if path.is_absolute() or base_dir is None else base_dir / path
        T, v = read_table_csv(path, dimension, t.column)
        return _table(T, v, t.interpolation, t.extrapolation, name)
    if "T" in spec or "values" in spec:
        t = _validate(TableInline, spec)
        if len(t.T) != len(t.values):
            raise ValueError(f"T and values of equal length (got {len(t.T)} and {len(t.values)})")
        try:
            fT, fv = factor(t.T_unit, "temperature"), factor(t.unit, dimension)
        except UnitError as e:
            raise ValueError(f"table units: {e}") from None
        if not all(map(math.isfinite, t.T + t.values)):
            raise ValueError("finite table entries")
        return _table(np.array(t.T) * fT, np.array(t.values) * fv, t.interpolation, t.extrapolation, name)
    raise ValueError("one of: a quantity string, {model = ...}, {table = 'file.csv'}, {T = [...], values = [...]}")


class IVData(StrictModel):
    """A measured I-V curve in SI."""

    I: list[float]
    V: list[float]


def _read_iv(v, info: ValidationInfo):
    if not isinstance(v, str):
        raise ValueError("a CSV file name")
    base = (info.context or {}).get("base_dir")
    path = Path(v) if Path(v).is_absolute() or base is None else base / v
    cols = read_csv_columns(path, {"I": "current", "V": "voltage"})
    return IVData(I=cols["I"].tolist(), V=cols["V"].tolist())


#: A CSV file of a measured I-V with columns "I [unit]" and "V [unit]", read at load time.
IVFile = Annotated[IVData, BeforeValidator(_read_iv)]


def describe_property(p: props.Property) -> dict:
    """JSON-able description of a Property in SI, for the resolved case copy."""
    out = {"kind": type(p).__name__}
    for k, v in vars(p).items():
        if k.startswith("_"):
            continue
        if isinstance(v, props.Property):
            v = describe_property(v)
        elif isinstance(v, np.ndarray):
            v = v.tolist()
        elif isinstance(v, tuple):
            v = [float(x) for x in v]
        out[k] = v
    return out


def Prop(dimension: str, description: str = ""):
    """Annotated type: a property spec of ``dimension`` built into a Property."""

    def build(v, info: ValidationInfo):
        base = (info.context or {}).get("base_dir")
        name = info.field_name or "property"
        try:
            return build_property(v, dimension, base, name=name)
        except ValueError as e:
            raise ValueError(str(e)) from None
        except UnitError as e:
            raise ValueError(str(e)) from None

    return Annotated[props.Property, BeforeValidator(build), PlainSerializer(describe_property),
                     Field(description=description, json_schema_extra={"dimension": dimension})]
