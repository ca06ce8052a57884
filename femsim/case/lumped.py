"""The [lumped] section: Newton-cooling self-heating model, seeds/000 Eq. 1."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .base import T_SANE, IVFile, Prop, Q, QList, StrictModel


class ThreeProbe(StrictModel):
    """3-probe construction R_3p(T) = R(T) + dRc(0) (1 - T/Tc) below Tc (seeds/000, section C)."""

    dRc0: QList("resistance", nonnegative=True, description="list of dRc(0), e.g. ['6 Ohm', '12 Ohm']")
    Tc: Q("temperature", positive=True, max=T_SANE, description="critical temperature of the contact's gap term")


class FieldFamily(StrictModel):
    """R(B, T) as one R(T) per field value (seeds/000, section D)."""

    B: QList("magnetic_field", nonnegative=True, description="field values")
    R: list[Prop("resistance", positive=True)] = Field(min_length=1,
                                                       description="one R(T) per field value, same order as B")

    @model_validator(mode="after")
    def _same_length(self):
        if len(self.B) != len(self.R):
            raise ValueError(f"one R(T) per field value (got {len(self.B)} fields and {len(self.R)} R(T))")
        return self


class Measured(StrictModel):
    """A measured I-V at one bath temperature: reconstruct R(T) with hA, or fit hA to R(T)."""

    iv: IVFile = Field(description="CSV file with columns 'I [A]' and 'V [V]' (any current/voltage units)")
    T_bath: Q("temperature", positive=True, max=T_SANE, description="bath temperature of the measurement")
    fit_hA: bool = Field(False, description="fit hA by least squares against the section's R(T)")

    @field_validator("fit_hA")
    @classmethod
    def _fit_needs_current(cls, fit, info: ValidationInfo):
        # points with I = 0 carry no information on hA (no Joule heat); the fit needs two
        iv = info.data.get("iv")
        if fit and iv is not None and sum(1 for i in iv.I if i != 0) < 2:
            raise ValueError("false, or a measured I-V with at least two nonzero currents to fit hA to "
                             f"({sum(1 for i in iv.I if i != 0)} of {len(iv.I)} currents in the iv file are nonzero)")
        return fit


class Lumped(StrictModel):
    """Lumped Newton model T = T_B + I V / (hA), solved in parametric form over T."""

    hA: Q("thermal_conductance", positive=True, description="heat transfer coefficient times area")
    R: Prop("resistance", description="sample resistance R(T): constant, model or table", positive=True)
    T_top: Q("temperature", positive=True, max=T_SANE) | None = Field(
        None, description="highest sample temperature on the curve (default: top of the R(T) range, else 3 T_bath)")
    P_max: Q("power", positive=True) | None = Field(
        None, description="Joule power at the top of each curve (T_top = T_bath + P_max/hA); excludes T_top")
    points: int = Field(2000, ge=10, le=10_000_000, description="points per curve")
    threshold: float = Field(0.01, gt=0, lt=1, description="relative departure of R(P) defining P_c")
    three_probe: ThreeProbe | None = None
    field: FieldFamily | None = None
    measured: Measured | None = None

    @model_validator(mode="after")
    def _one_top(self):
        if self.T_top is not None and self.P_max is not None:
            raise ValueError("either T_top or P_max, not both")
        return self

    def top(self, T_bath: float) -> float:
        """Highest sample temperature of the curve at ``T_bath`` [K]."""
        if self.P_max is not None:
            return T_bath + self.P_max / self.hA
        if self.T_top is not None:
            return self.T_top
        hi = self.R.T_range[1]
        return hi if hi < float("inf") else 3.0 * T_bath
