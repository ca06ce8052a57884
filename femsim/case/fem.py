"""The [geometry], [materials] and [fem] sections of an electro-thermal FEM case.

Geometry parameters are generated from the builders' signatures in `geometries.BUILDERS`
(every float parameter is a length with units, except the dimensionless grading ratios),
so the case schema follows the builders without a second copy of their parameter lists.
"""

from __future__ import annotations

import inspect
import typing
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, ValidationInfo, create_model, field_validator, model_validator

from ..errors import CaseError
from .base import L_MIN, L_SANE, T_SANE, Prop, Q, StrictModel, bias_to_si

#: builder float parameters that are ratios, not lengths
_RATIOS = {"growth", "far_growth"}


def _param_type(name: str, p: inspect.Parameter):
    from femsim.geometries.base import MESH_CONTROLS, MESH_PRESETS

    ann = p.annotation
    default = None if p.default is inspect.Parameter.empty else p.default
    args = set(typing.get_args(ann)) or {ann}
    if name == "mesh":
        return (Literal[tuple(MESH_PRESETS)],   # (default None: the builder's medium)
                Field(None, description="mesh preset: 'coarse', 'medium' (default) or 'fine'; each step halves "
                                        "every cell (edge cells, growth ratios, cells through layers); the mesh "
                                        "controls below, when given, override it"))
    if name == "base_skin_depth":
        return (Q("length", positive=True, max=L_SANE, description="base skin depth") | None,
                Field(None, description="depth the current spreading sideways in an anisotropic base reaches; the "
                                        "first base cell is at most half of it (default: (mesa side) "
                                        "sqrt(rho_ab / rho_c) of the base material at T_bath)"))
    if name in MESH_CONTROLS and default is None:
        what = "grading ratio" if name in _RATIOS else name.replace("_", " ")
        if float in args and name not in _RATIOS:
            t = Q("length", positive=True, max=L_SANE, description=what)
            return (t | None, Field(None, description=f"{what} (default: set by the mesh preset)"))
        if float in args:
            return (float | None, Field(None, gt=1, description=f"{what} (default: set by the mesh preset)"))
        return (int | None, Field(None, ge=1, description=f"{what} (default: set by the mesh preset)"))
    if float in args and name not in _RATIOS:
        t = Q("length", positive=name not in ("substrate_margin", "bridge_length"), nonnegative=True, max=L_SANE,
              min=L_MIN, description=f"{name.replace('_', ' ')}")
        return (t | None, Field(None, description=f"{name.replace('_', ' ')} (default {_fmt(default)})"))
    if float in args:
        return (float | None, Field(None, gt=1, description=f"grading ratio (default {default})"))
    if int in args:
        return (int | None, Field(None, ge=1, description=f"{name.replace('_', ' ')} (default {default})"))
    if bool in args:
        return (bool | None, Field(None, description=f"{name.replace('_', ' ')} (default {default})"))
    return (str | None, Field(None, description=f"{name.replace('_', ' ')} (default {default!r})"))


def _fmt(default):
    if default is None:
        return "automatic"
    return f"{default * 1e6:g} um" if isinstance(default, float) else str(default)


def _geometry_models():
    from femsim.geometries import BUILDERS

    models = []
    for kind, fn in BUILDERS.items():
        fields = {"kind": (Literal[kind], Field(description="geometry builder"))}
        for name, p in inspect.signature(fn, eval_str=True).parameters.items():
            fields[name] = _param_type(name, p)
        doc = (fn.__doc__ or kind).strip().splitlines()[0]
        models.append(create_model(f"Geometry_{kind}", __base__=StrictModel, __doc__=doc, **fields))
    return models


class ExternalMesh(StrictModel):
    """A mesh file meshio reads (gmsh .msh with physical groups first)."""

    kind: Literal["external"]
    file: str = Field(description="mesh file, relative to the case file")
    unit: Q("length", positive=True, description="length unit of the file's coordinates") = 1.0
    path: str = Field("", exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _resolve(cls, data, info: ValidationInfo):
        if isinstance(data, dict) and "file" in data:
            base = (info.context or {}).get("base_dir")
            p = Path(str(data["file"]))
            p = p if p.is_absolute() or base is None else base / p
            # a CaseError (not a ValueError) passes pydantic untouched and keeps its key
            if not p.exists():
                raise CaseError("geometry.file", data["file"], f"a readable mesh file (not found: {p})")
            if not p.is_file():
                raise CaseError("geometry.file", data["file"], f"a regular mesh file, not a directory, device or "
                                f"pipe ({p})")
            data = {**data, "path": str(p)}
        return data


GeometrySpec = Annotated[Union[tuple(_geometry_models()) + (ExternalMesh,)], Field(discriminator="kind")]


def _builtins() -> str:
    from ..materials import describe_builtins

    return describe_builtins()


class MaterialSpec(StrictModel):
    """A material for one subdomain: a built-in by name, optionally with properties
    overridden, or given property by property; or a thin contact layer."""

    builtin: str | None = Field(None, description=f"built-in material, with the temperatures it covers and its "
                                                  f"documented extensions (docs/materials.md): {_builtins()}")
    extrapolation: Literal["error", "constant", "linear"] = Field(
        "error", description="outside a property's valid range (a built-in's or a table's): error (default), hold "
                             "the end value (constant) or continue the end slope (linear, stopped before it reaches "
                             "zero)")
    rrr: float | None = Field(None, gt=1, description="residual resistance ratio (Au, Sn)")
    rho: Prop("resistivity", "isotropic resistivity", positive=True) | None = None
    rho_ab: Prop("resistivity", "in-plane resistivity", positive=True) | None = None
    rho_c: Prop("resistivity", "c-axis (z) resistivity; or {calibrate_R = 'R.csv'}: fitted so that the device's "
                "isothermal resistance (4-probe if fem.electrical.four_probe, else 2-terminal) equals the measured "
                "R(T) at every temperature of the file", positive=True) | None = None
    kappa: Prop("thermal_conductivity", "isotropic thermal conductivity", positive=True) | None = None
    kappa_ab: Prop("thermal_conductivity", "in-plane thermal conductivity", positive=True) | None = None
    kappa_c: Prop("thermal_conductivity", "c-axis thermal conductivity", positive=True) | None = None
    heat_capacity: Prop("heat_capacity_volumetric", "volumetric heat capacity", positive=True) | None = None
    contact_resistance: Prop("area_resistance", "specific contact resistance r_c of a thin layer", positive=True) | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data):
        return {"builtin": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _complete(self):
        if self.rho is not None and (self.rho_ab or self.rho_c):
            raise ValueError("either rho or rho_ab/rho_c")
        if self.kappa is not None and (self.kappa_ab or self.kappa_c):
            raise ValueError("either kappa or kappa_ab/kappa_c")
        from ..properties import Calibrated

        for key in ("rho", "rho_ab", "kappa", "kappa_ab", "kappa_c", "heat_capacity", "contact_resistance"):
            if isinstance(getattr(self, key), Calibrated):
                raise ValueError(f"calibrate_R in rho_c only (it was given in {key})")
        if self.builtin is None and self.contact_resistance is None:
            has_rho = self.rho is not None or (self.rho_ab is not None and self.rho_c is not None)
            has_kappa = self.kappa is not None or (self.kappa_ab is not None and self.kappa_c is not None)
            if not (has_rho and has_kappa):
                raise ValueError("a builtin name, a contact_resistance, or resistivity (rho, or rho_ab and rho_c) "
                                 "and thermal conductivity (kappa, or kappa_ab and kappa_c)")
        return self


class Electrical(StrictModel):
    """Current and voltage contacts: named boundaries of the mesh."""

    bias: str | list[str] = Field(description="boundary (or boundaries) of the driven current contact")
    ground: str | list[str] = Field(description="boundary of the grounded current contact (phi = 0)")
    four_probe: list[str] | None = Field(None, min_length=2, max_length=2,
                                         description="[high, low] voltage-probe boundaries (4-probe voltage)")
    three_probe: str | None = Field(None, description="boundary whose mean potential is subtracted from the "
                                                      "bias contact's (3-probe voltage)")
    equipotential: list[str] = Field(
        default_factory=list,
        description="conducting subdomains (metal films) taken as ideal conductors, each merged into the contact "
                    "it touches: no potential drop and no Joule heat in them, heat conduction kept. Needed when "
                    "a film out-conducts the sample by more than ~1e9 (gold on a Bi2212 mesa at 4.2 K: 1e18), "
                    "which double precision cannot resolve")

    @field_validator("bias", "ground", mode="before")
    @classmethod
    def _some_contact(cls, v):
        if isinstance(v, list) and not v:   # a contact without area carries no current
            raise ValueError("a boundary name or a non-empty list of them")
        return v


class CoolingSpec(StrictModel):
    """Cooling of a group of surfaces into the coolant at T_bath: Newton cooling
    -kappa dT/dn = h (T - T_bath) with a constant h or an h(T), or the pool-boiling curve
    of liquid helium (femsim.cooling.HeliumBoiling). Give exactly one of h, h_T, boiling."""

    boundaries: list[str] = Field(min_length=1, description="boundary names")
    h: Q("heat_transfer_coefficient", nonnegative=True, description="constant heat transfer coefficient") | None = None
    h_T: Prop("heat_transfer_coefficient", positive=True,
              description="temperature-dependent heat transfer coefficient h(T) of the surface temperature: "
                          "{model = ...}, {table = 'h.csv'} or an inline table") | None = None
    boiling: Literal["liquid_helium"] | None = Field(
        None, description="'liquid_helium': the pool-boiling curve of saturated liquid helium I (nucleate boiling "
                          "up to the critical flux ~1 W/cm^2, then film boiling; Brentari & Smith 1965, Schmidt "
                          "1981); needs T_bath between 2.17 K and 5.2 K")

    @model_validator(mode="after")
    def _one_law(self):
        given = [k for k in ("h", "h_T", "boiling") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("exactly one of h (constant), h_T (h(T)) or boiling = 'liquid_helium' "
                             f"(got {', '.join(given) or 'none'})")
        return self

    def law(self):
        """What femsim.fem.Cooling takes as h: a number, a Property or a CoolingLaw."""
        if self.boiling == "liquid_helium":
            from ..cooling import HeliumBoiling
            return HeliumBoiling()
        return self.h if self.h is not None else self.h_T


class Thermal(StrictModel):
    """Thermal boundary conditions (unnamed surfaces are adiabatic)."""

    bath: list[str] = Field(default_factory=list, description="boundaries held at T_bath")
    cooling: list[CoolingSpec] = Field(default_factory=list, description="Newton-cooled surface groups")

    @model_validator(mode="after")
    def _some_sink(self):
        if not self.bath and not self.cooling:
            raise ValueError("a bath or a cooled surface (otherwise no steady state exists)")
        return self


class Bias(StrictModel):
    """The bias sweep from zero."""

    mode: Literal["current", "voltage", "power"] = Field("current", description="controlled quantity")
    stop: float = Field(description="end of the sweep, a current, voltage or power according to mode")
    continuation: Literal["arclength", "natural"] = Field(
        "arclength", description="pseudo-arclength (passes turning points) or natural-parameter steps")
    points: int = Field(40, ge=2, le=100_000, description="points of a natural sweep; arclength: about this many")
    max_points: int = Field(400, ge=2, le=100_000, description="arclength: hard limit on points")
    T_max_limit: Q("temperature", positive=True, max=T_SANE, description="stop when the peak temperature exceeds this") | None = None

    @model_validator(mode="before")
    @classmethod
    def _stop_units(cls, data):
        if isinstance(data, dict) and "stop" in data:
            data = {**data, "stop": bias_to_si(data["stop"], data.get("mode", "current"), "stop")}
        return data

    @model_validator(mode="after")
    def _positive(self):
        if not self.stop > 0:
            raise ValueError(f"stop > 0 (got {self.stop:g})")
        return self


class Solver(StrictModel):
    """Nonlinear and linear solver settings."""

    rtol: float = Field(1e-11, gt=0, lt=1e-2, description="Newton relative residual tolerance")
    max_newton: int = Field(30, ge=1, le=1000, description="Newton steps per bias point")
    linear: Literal["auto", "pardiso", "superlu", "amg"] = Field("auto", description="linear solver")


class FieldOutput(StrictModel):
    """Which bias points get 3D fields written (VTU + a .pvd collection)."""

    every: int = Field(10, ge=1, description="every n-th converged point")
    turning_points: bool = Field(True, description="also at each turning point")
    last: bool = Field(True, description="also at the last point")


class Fem(StrictModel):
    """Electro-thermal FEM study."""

    electrical: Electrical
    thermal: Thermal
    bias: Bias | None = Field(None, description="the bias sweep (required for study = 'fem' and 'hotspot')")
    solver: Solver = Solver()
    fields: FieldOutput = FieldOutput()
    region: str | None = Field(None, description="subdomain whose mean temperature defines (hA)_eff and the "
                                                 "lumped comparison (default: the whole mesh)")
    lumped_tolerance: float = Field(0.01, gt=0, lt=1, description="max |V_lumped - V_fem|/V_fem for the verdict "
                                                                  "'lumped model holds'")
