"""Building blocks of the case schema: SI quantities with checked dimensions, property
specifications (constant, model, table), and strict models that reject unknown keys.

Quantities are parsed to SI floats at validation time (`Q("length")`); property specs are
turned into `femsim.properties.Property` objects, with table files resolved relative to
the case file (the directory comes in through the pydantic validation context).
"""

from __future__ import annotations

import csv
import difflib
import re
import stat
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, ValidationError, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationInfo

from .. import properties as props
from ..units import UnitError, convert, expected, symbol, to_si


#: sanity bounds for absurd magnitudes: no sample here is a metre long or 10^4 K hot
L_SANE = 1.0
#: smallest length a geometry may have: an atomic layer (a 1e-30 m mesa divides by ~0 in meshing)
L_MIN = 1e-10
T_SANE = 1e4
F_SANE = 1e15


class StrictModel(BaseModel):
    """Unknown keys are errors (with the nearest valid key suggested by the loader).

    Strict types: a string is not a number or a bool ("5", "yes"), a bool is not a number,
    a float is not an int (1e3); NaN and infinity are refused in every number field.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, strict=True,
                              allow_inf_nan=False)


# --------------------------------------------------------------------------- messages

def nearest(name, names) -> str | None:
    """The valid name closest to a misspelt ``name`` (case-insensitive), or None."""
    low = {str(n).lower(): str(n) for n in names}
    key = str(name).lower()
    if key in low:
        return low[key]
    near = difflib.get_close_matches(key, list(low), n=1, cutoff=0.5)
    return low[near[0]] if near else None


def did_you_mean(name, names) -> str:
    near = nearest(name, names)
    return f"; did you mean '{near}'?" if near is not None and near != name else ""


def no_such_key(name, names, where: str = "here") -> str:
    """Expectation text for an unknown key, with the valid keys and the nearest one."""
    return f"no such key (valid keys {where}: {', '.join(map(str, names))}){did_you_mean(name, names)}"


_QUOTED = re.compile(r"'([^']*)'")


def describe_error(err: dict, fields=()) -> str:
    """What a pydantic error expected, in the schema's words (the value is reported apart).

    ``fields`` are the valid keys where the error occurred (for unknown keys and tables).
    """
    kind, msg, ctx = err["type"], err["msg"], err.get("ctx") or {}
    value = err.get("input")
    if kind == "extra_forbidden":
        return no_such_key(err["loc"][-1] if err["loc"] else "", fields)
    if kind == "missing":
        return "this key is required"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return "a non-empty list" if n == 1 else f"a list of at least {n} entries"
    if kind == "too_long":
        return f"a list of at most {ctx.get('max_length')} entries"
    if kind == "literal_error":
        choices = _QUOTED.findall(str(ctx.get("expected", "")))
        hint = did_you_mean(value, choices) if isinstance(value, str) and choices else ""
        return msg.replace("Input should be", "one of") + hint
    if kind in ("model_type", "model_attributes_type"):
        return f"a table with keys {', '.join(fields)}" if fields else "a table"
    if kind == "dict_type":
        return "a table of named entries (name = {...})"
    if kind in ("bool_type", "bool_parsing"):
        return "true or false"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "a whole number such as 100 (an integer, not a string or a float)"
    if kind in ("float_type", "float_parsing"):
        return "a valid number (not a string or a bool)"
    if kind in ("string_type", "str_type"):
        return "a string"
    if kind in ("list_type", "tuple_type"):
        return "a list"
    if kind == "finite_number":
        return "a finite number (not nan or inf)"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return "a value " + msg.removeprefix("Input should be ")
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ").removeprefix("Input should be ")
    return msg


def _quantity(dimension: str):
    def parse(v):
        try:
            return to_si(v, dimension)
        except UnitError as e:
            raise ValueError(str(e)) from None
    return parse


#: the dimension of a bias value by bias mode
BIAS_DIMENSION = {"current": "current", "voltage": "voltage", "power": "power"}


class KeyedValueError(ValueError):
    """A validator's error about one key below the model it validates ("waveform.amplitude"
    of [transient]): the case error names that key and its value, not the whole table."""

    def __init__(self, key: str, value, expected: str):
        super().__init__(f"{key} = {value!r}: {expected}")
        self.key, self.value, self.expected = key, value, expected


def bias_to_si(value, mode, key: str):
    """A bias value of a section biased in ``mode`` (a current, voltage or power) in SI.

    ``value`` is a string with units, or a list of them; ``key`` names it in the error
    ("stop = '5 V': ..."). A bare number is refused everywhere ("5" could be A or mA). An
    unknown mode leaves the value to the mode field's own error.
    """
    dim = BIAS_DIMENSION.get(mode)
    if dim is None:
        return value
    if isinstance(value, list):   # the error names the element: amplitudes[1]
        return [bias_to_si(x, mode, f"{key}[{i}]") for i, x in enumerate(value)]
    try:
        return to_si(value, dim)
    except UnitError as e:
        raise KeyedValueError(key, value, str(e)) from None


def _positive(x: float) -> float:
    if not x > 0:
        raise ValueError("a positive value")
    return x


def _at_most(limit: float, dimension: str):
    def check(x: float) -> float:
        if not x <= limit:
            unit = symbol(dimension)
            raise ValueError(f"a value <= {limit:g} {unit} (a sanity bound; got {x:g} {unit})")
        return x
    return check


def _at_least(limit: float, dimension: str, zero_ok: bool):
    def check(x: float) -> float:
        if not (x >= limit or (zero_ok and x == 0)):
            unit = symbol(dimension)
            zero = " or 0" if zero_ok else ""
            raise ValueError(f"a value >= {limit:g} {unit}{zero} (a sanity bound; got {x:g} {unit})")
        return x
    return check


def _nonnegative(x: float) -> float:
    if not x >= 0:
        raise ValueError("a value >= 0")
    return x


def Q(dimension: str, *, positive: bool = False, nonnegative: bool = False, max: float | None = None,
      min: float | None = None, description: str = ""):
    """Annotated float type: a quantity string of ``dimension``, stored in SI.

    ``max`` and ``min`` (SI, opt-in) refuse absurd magnitudes, e.g. ``Q("length",
    positive=True, max=1.0, min=1e-10)``; with ``min`` a non-negative quantity may still be 0.
    """
    checks = [AfterValidator(_positive)] if positive else [AfterValidator(_nonnegative)] if nonnegative else []
    if max is not None:
        checks.append(AfterValidator(_at_most(max, dimension)))
    if min is not None:
        checks.append(AfterValidator(_at_least(min, dimension, zero_ok=not positive)))
    return Annotated[float, BeforeValidator(_quantity(dimension)), *checks,
                     Field(description=description, json_schema_extra={"dimension": dimension})]


def _one_or_many(v):
    return v if isinstance(v, list) else [v]


def QList(dimension: str, *, positive: bool = False, nonnegative: bool = False, max: float | None = None,
          description: str = ""):
    """A quantity or a non-empty list of quantities (a family), stored as a list in SI."""
    item = Q(dimension, positive=positive, nonnegative=nonnegative, max=max)
    return Annotated[list[item], BeforeValidator(_one_or_many), Field(min_length=1, description=description,
                                                                      json_schema_extra={"dimension": dimension})]


# --------------------------------------------------------------------------- tables

_HEADER = re.compile(r"^\s*([^\[\]]+?)\s*(?:\[(.*)\])?\s*$")

#: largest file a case may reference (a table or a measured curve)
MAX_FILE_BYTES = 64 * 2**20


def read_text_file(path: Path, what: str = "CSV file", limit: int = MAX_FILE_BYTES) -> str:
    """The text of a file a case file names, or ValueError completing "expected ...".

    "Confined to readable files": ``path`` (after following symbolic links) must be an
    existing regular file -- not a directory, device (/dev/zero), pipe or socket -- of at
    most ``limit`` bytes, readable by the user, holding UTF-8 text (a BOM is allowed)
    without NUL bytes. Where it lies is not restricted: absolute paths and '..' are
    allowed, as a case may use shared data; nothing is ever written there or executed.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ValueError(f"a readable {what} (not found: {path})") from None
    except (OSError, ValueError) as e:
        reason = getattr(e, "strerror", None) or e.__class__.__name__
        raise ValueError(f"a readable {what} ({reason}: {path})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ValueError(f"a readable {what}, not a directory ({path})")
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"a readable {what} that is a regular file (not a device, pipe or socket: {path})")
    if st.st_size > limit:
        raise ValueError(f"a {what} of at most {limit // 2**20} MiB ({path} has {st.st_size / 2**20:.0f} MiB)")
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise ValueError(f"a readable {what} ({e.strerror or e.__class__.__name__}: {path})") from None
    if len(data) > limit:
        raise ValueError(f"a {what} of at most {limit // 2**20} MiB ({path})")
    if b"\0" in data:
        raise ValueError(f"a text {what} (it contains NUL bytes, i.e. binary data: {path})")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"a UTF-8 text {what} (byte 0x{data[e.start]:02x} at offset {e.start} is not UTF-8 "
                         f"text: {path})") from None


def read_csv_columns(path: Path, columns: dict[str, str], optional_first: bool = False) -> dict[str, np.ndarray]:
    """Read named columns of a CSV file with units in its header ("T [K],R [Ohm]") into SI.

    ``columns`` maps a column name to its dimension; a name of None picks the column by
    position (first key: column 0, second: column 1). '#' lines are comments. A
    temperature column without a unit is in K; every other column needs its unit.
    """
    text = read_text_file(path, "CSV file")
    rows, lines = [], []
    try:
        for lineno, line in enumerate(text.splitlines(), start=1):
            r = next(csv.reader([line]), [])
            if r and not r[0].lstrip().startswith("#"):
                rows.append(r)
                lines.append(lineno)
    except csv.Error as e:
        raise ValueError(f"a valid CSV file ({e} in line {lineno} of {path.name})") from None
    if len(rows) < 3:
        raise ValueError(f"a header row and at least 2 data rows in {path.name}")
    heads = [_HEADER.match(h) for h in rows[0]]
    names = [h.group(1) if h else h_raw.strip() for h, h_raw in zip(heads, rows[0])]
    units = [(h.group(2) or "") if h else "" for h in heads]
    out = {}
    for pos, (name, dimension) in enumerate(columns.items()):
        j = names.index(name) if name in names else (pos if name is None or (optional_first and pos == 0) else -1)
        if j < 0 or j >= len(names):
            want = f"a column named {name!r}" if name is not None else f"a column {pos + 1} (the values)"
            raise ValueError(f"{want} in {path.name} (columns: {', '.join(names)})")
        values = []
        for k, r in zip(lines[1:], rows[1:]):
            try:
                values.append(float(r[j]))
            except (ValueError, IndexError):
                raise ValueError(f"numbers in row {k} of {path.name} (found {r!r})") from None
        values = np.array(values)
        if not np.all(np.isfinite(values)):
            raise ValueError(f"finite numbers in column {names[j]!r} of {path.name}")
        try:
            out[name] = convert(values, units[j] or ("K" if dimension == "temperature" else ""), dimension)
        except UnitError as e:
            raise ValueError(f"the unit of column {names[j]!r} in the header of {path.name}: {e}") from None
        if not np.all(np.isfinite(out[name])):
            raise ValueError(f"numbers in column {names[j]!r} of {path.name} that stay finite in SI units")
    return out


def read_table_csv(path: Path, value_dimension: str, column: str | None = None):
    """A two-column property table: (T in K from the first column, values in SI)."""
    cols = read_csv_columns(path, {"T": "temperature", column: value_dimension}, optional_first=True)
    return cols["T"], cols[column]


def _table(T, values, interpolation, extrapolation, name):
    T, values = np.asarray(T, dtype=float), np.asarray(values, dtype=float)
    bad = np.flatnonzero(np.diff(T) <= 0)
    if bad.size:
        k = bad[0]
        raise ValueError(f"table temperatures that increase strictly (T = {T[k + 1]:g} K follows {T[k]:g} K)")
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


class CalibrateSpec(StrictModel):
    calibrate_R: str | dict = Field(description="the device's measured R(T): a CSV file (header 'T [K], R [Ohm]') "
                                                "or an inline table {T = [...], values = [...], unit = 'Ohm'}")
    column: str | None = Field(None, description="name of the resistance column (default: the second)")
    interpolation: Literal["pchip", "linear"] = Field(
        "pchip", description="of the fitted resistivity table: pchip in ln(rho) (a resistivity spanning decades) "
                             "or linear in rho")
    extrapolation: Literal["error", "constant", "linear"] = Field(
        "error", description="of the fitted resistivity table outside the measured temperatures")


def _calibration(spec: dict, dimension: str, base_dir: Path | None, name: str) -> props.Calibrated:
    """{calibrate_R = 'R.csv'}: a resistivity fitted at set-up so that the device's
    isothermal resistance equals the measured R(T) (femsim.fem.calibration)."""
    if dimension != "resistivity":
        raise ValueError("calibrate_R in a resistivity only (rho_c of the sample)")
    c = _validate(CalibrateSpec, spec)
    R = c.calibrate_R
    if isinstance(R, str):
        path = Path(R)
        path = path if path.is_absolute() or base_dir is None else base_dir / path
        T, v = read_table_csv(path, "resistance", c.column)
        source = str(path)
    else:
        if "T" not in R or "values" not in R:
            raise ValueError("calibrate_R = a CSV file name or an inline table {T = [...], values = [...], "
                             "unit = 'Ohm'} of the measured R(T)")
        tab = build_property(R, "resistance", base_dir, name="measured R")
        T, v = tab.T, tab.values
        source = "inline table"
    if np.any(v <= 0):
        raise ValueError("calibrate_R: positive resistances")
    R_table = _table(T, v, "linear", "error", "measured R(T)")
    return props.Calibrated(R_table, interpolation=c.interpolation, extrapolation=c.extrapolation,
                            source=source, name=name)


#: name -> (Property class, {parameter: dimension or "value" for the property's own})
MODELS = {
    "constant": (props.Constant, {"value": "value"}),
    "linear": (props.Linear, {"f0": "value", "alpha": "inverse_temperature", "T0": "temperature"}),
    "exponential": (props.Exponential, {"f0": "value", "beta": "inverse_temperature", "T0": "temperature"}),
    "arrhenius": (props.Arrhenius, {"f0": "value", "Ea": "temperature"}),
    "pseudogap": (props.Pseudogap, {"f_min": "value", "T_star": "temperature", "Delta": "temperature"}),
}


#: model -> parameter -> (test of its SI value, what it must be): checked before the model
#: is built, so a zero that only divides later (T_star = 0 in the pseudogap) is named
_MODEL_RULES = {
    "pseudogap": {"T_star": (lambda x: x > 0, "a positive temperature (the minimum of f(T) lies at T_star)"),
                  "Delta": (lambda x: x >= 0, "an activation temperature >= 0 K")},
}


def _evaluates(p: props.Property) -> None:
    """Evaluate a model property at a few temperatures of its range: a parameter set that
    divides by zero or overflows fails here, at load, not in the middle of a run."""
    lo, hi = p.T_range
    lo, hi = max(lo, 1e-3), min(hi, 1e4)
    T = np.geomspace(lo, hi, 7) if hi > lo else np.array([lo])
    with np.errstate(divide="raise", invalid="raise", over="ignore"):
        np.asarray(p(T), dtype=float)
        np.asarray(p.derivative(T), dtype=float)


_FORMS = {"TableFile": "{table = 'file.csv'}", "TableInline": "{T = [...], values = [...]}"}


def _validate(model: type[BaseModel], spec: dict):
    """Validate a nested spec, re-raising its first error as one short line."""
    try:
        return model.model_validate(spec)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        errors.sort(key=lambda err: err["type"] != "extra_forbidden")
        err = errors[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        form = _FORMS.get(model.__name__, "table")
        if err["type"] == "extra_forbidden":
            names = list(model.model_fields)
            raise ValueError(f"no key '{where}' in a {form} property (valid keys: {', '.join(names)})"
                             f"{did_you_mean(err['loc'][-1], names)}") from None
        if err["type"] == "missing":
            raise ValueError(f"the key '{where}' in a {form} property (it is required)") from None
        raise ValueError(f"{where} = {err.get('input')!r} in a {form} property: {describe_error(err)}") from None


def _model_params(model: str, params: dict, spec: dict) -> None:
    unknown = [k for k in spec if k not in params and k != "model"]
    if unknown:
        raise ValueError(f"parameters {sorted(params)} for model {model!r} (unknown: {unknown}"
                         f"{did_you_mean(unknown[0], params)})")
    missing = set(params) - set(spec) - {"T0"}
    if missing:
        raise ValueError(f"parameters {sorted(params)} for model {model!r} (missing: {sorted(missing)})")


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
    if "calibrate_R" in spec:
        return _calibration(spec, dimension, base_dir, name)
    if "model" in spec:
        model = spec["model"]
        if not isinstance(model, str) or model not in MODELS:
            raise ValueError(f"a model in {sorted(MODELS)} (got model = {model!r}{did_you_mean(model, MODELS)})")
        cls, params = MODELS[model]
        _model_params(model, params, spec)
        kw = {}
        for p, dim in params.items():
            if p in spec:
                try:
                    kw[p] = to_si(spec[p], dimension if dim == "value" else dim)
                except UnitError as e:
                    raise ValueError(f"{p} = {spec[p]!r}: {e}") from None
        for p, rule in _MODEL_RULES.get(model, {}).items():
            if p in kw and not rule[0](kw[p]):
                raise ValueError(f"{p} = {spec[p]!r}: {rule[1]}")
        try:
            prop = cls(**kw, name=name) if model != "constant" else cls(kw["value"], name=name)
            _evaluates(prop)
        except (ValueError, ArithmeticError) as e:
            raise ValueError(f"parameters of model {model!r} that define it ({e or type(e).__name__})") from None
        return prop
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
            T = convert(t.T, t.T_unit, "temperature")
            v = convert(t.values, t.unit, dimension)
        except UnitError as e:
            raise ValueError(f"table units: {e}") from None
        if not (np.all(np.isfinite(T)) and np.all(np.isfinite(v))):
            raise ValueError("finite table entries")
        return _table(T, v, t.interpolation, t.extrapolation, name)
    hint = did_you_mean(next(iter(spec), ""), ["model", "table", "T", "values", "calibrate_R"])
    raise ValueError("one of: a quantity string, {model = ...}, {table = 'file.csv'}, {T = [...], values = [...]} "
                     f"(or, for rho_c, {{calibrate_R = 'R.csv'}}; got a table with keys {list(spec)}{hint})")


def _check_positive(p: props.Property, dimension: str) -> None:
    """Refuse a property that is zero or negative anywhere in its range (sampled)."""
    if isinstance(p, props.Calibrated):   # fitted later; its measured R is checked when read
        return
    if isinstance(p, props.Table):
        T, v = p.T, p.values
    else:
        lo, hi = p.T_range
        lo, hi = max(lo, 1e-3), min(hi, 1e4)
        T = np.unique(np.concatenate([np.geomspace(lo, hi, 400), np.linspace(lo, hi, 400)])) if hi > lo \
            else np.array([lo])
        try:
            with np.errstate(all="ignore"):
                v = np.asarray(p(T), dtype=float) * np.ones_like(T)
        except ValueError:   # outside a range the property declares
            return
        except ArithmeticError as e:   # a parameter that divides by zero: not a usable property
            raise ValueError(f"a property that evaluates over its range ({type(e).__name__}: {e})") from None
    bad = np.flatnonzero(~(v > 0))
    if bad.size:
        k = bad[0]
        raise ValueError(f"positive values (this one is {v[k]:g} {symbol(dimension)} at T = {T[k]:g} K)")


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


def Prop(dimension: str, description: str = "", *, positive: bool = False):
    """Annotated type: a property spec of ``dimension`` built into a Property.

    ``positive`` (opt-in) refuses a property that is zero or negative somewhere in its
    range: a table value, a constant, or a model sampled over 1 mK .. 10^4 K.
    """

    def build(v, info: ValidationInfo):
        base = (info.context or {}).get("base_dir")
        name = info.field_name or "property"
        try:
            p = build_property(v, dimension, base, name=name)
            if positive:
                _check_positive(p, dimension)
            return p
        except ValueError as e:  # UnitError included
            raise ValueError(str(e)) from None

    return Annotated[props.Property, BeforeValidator(build), PlainSerializer(describe_property),
                     Field(description=description, json_schema_extra={"dimension": dimension})]
