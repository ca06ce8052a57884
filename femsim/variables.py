"""The registry of femsim's output variables: one entry per short name, used by every
writer (CSV, netCDF, VTU), plot and view.

An entry holds what a reader of a results file needs to know of a name: the unit as
femsim displays it (``units``: "Ohm", "W/cm^2", the SI symbol of `femsim.units`), the
label in CSV headers and on axes (``label``: "dI/dV"), a ``long_name``, where a field
lives on the mesh (``location``: "node" or "cell", None for curves), whether it counts
something (``integer``: stored as an integer in netCDF) and, for fields, the colour map
of the 3D views. The unit written into netCDF is the UDUNITS spelling of ``units``
(`femsim.cf.udunits`: "ohm", "W cm^-2"), so one field holds both spellings.

The long name here is the general meaning; a study may state a more specific one where
it builds its dataset (the lumped model's T_mean is the body's temperature T_B + P/(hA)),
but the unit and label of a name are the registry's.
"""

from __future__ import annotations

from dataclasses import dataclass

#: SI prefixes a displayed unit takes (power of ten, prefix), largest first: the one table
#: of the terminal (`femsim.progress.si`), the axes (`femsim.postprocess.axes`) and the report
#: (exponents, so that 10.0**e and 10.0**-e are both the exact literals)
PREFIXES = ((9, "G"), (6, "M"), (3, "k"), (0, ""), (-3, "m"), (-6, "µ"), (-9, "n"), (-12, "p"), (-15, "f"))


@dataclass(frozen=True)
class Variable:
    name: str
    units: str                     # displayed SI symbol ("Ohm", "A/m^2"); "1" for dimensionless
    long_name: str
    label: str = ""                # CSV header / axis label; default the name
    location: str | None = None    # "node" or "cell" for mesh fields
    integer: bool = False          # a count or an index: an integer on disk
    cmap: str = "viridis"          # colour map of a field in the 3D views
    aliases: tuple[str, ...] = ()  # other names a user may type for it

    @property
    def shown(self) -> str:
        return self.label or self.name

    def attrs(self, long_name: str | None = None, units: str | None = None) -> dict:
        """``{"units", "long_name"}`` attrs of an xarray variable (a study may be more specific)."""
        return {"units": units or self.units, "long_name": long_name or self.long_name}


def _v(name, units, long_name, **kw) -> Variable:
    return Variable(name, units, long_name, **kw)


_ALL = [
    # -- curves: bias and readouts (lumped, fem, transient, hotspot) ---------------------------
    _v("I", "A", "current"),
    _v("V", "V", "voltage"),
    _v("P", "W", "Joule power I V"),
    _v("T_mean", "K", "mean temperature"),
    _v("T_max", "K", "maximum temperature"),
    _v("T_mean_all", "K", "volume-mean temperature of the whole mesh"),
    _v("T_spread", "K", "standard deviation of T within the hA region"),
    _v("R", "Ohm", "resistance V/I"),
    _v("rho_c", "Ohm m", "c-axis resistivity (calibrated: rho_c = { calibrate_R = ... })"),
    _v("dIdV", "S", "differential conductance", label="dI/dV"),
    _v("V_model", "V", "voltage of the heating model at the measured current"),
    _v("dIdV_model", "S", "differential conductance of the heating model"),
    _v("residual", "V", "measured minus model voltage"),
    _v("R_norm", "1", "resistance normalised to its low-bias value", label="R/R0"),
    _v("V_4p", "V", "V_4probe: voltage between the probe surfaces"),
    _v("V_3p", "V", "V_3probe: bias contact to the voltage probe"),
    _v("V_contact", "V", "V_2probe: voltage across the current contacts", label="V_2probe"),
    _v("P_per_area", "W/cm^2", "heat load P/A with A the in-plane area of the hA region (seeds/000: P = VI/A)"),
    _v("hA_eff", "W/K", "(hA)_eff = P/(T_mean - T_bath) of the hA region"),
    _v("P_outside", "1", "fraction of P dissipated outside the hA region"),
    _v("energy_balance", "1", "|P - heat out| / P"),
    _v("current_balance", "1", "|I_in - I_out| / I"),
    _v("power_balance", "1", "|P - I V_2probe| / P (one definition of P: volume integral = contact power)"),
    _v("newton_steps", "1", "Newton steps", integer=True),
    _v("is_turning", "1", "1 where the point is a refined turning point", integer=True),
    # -- family coordinates --------------------------------------------------------------------
    _v("T_bath", "K", "bath temperature"),
    _v("dRc0", "Ohm", "contact-resistance gap term dRc(0)"),
    _v("B", "T", "magnetic field"),
    _v("point", "1", "bias-point index", integer=True),
    _v("T", "K", "temperature", location="node", cmap="inferno"),
    # -- FEM against the lumped model ----------------------------------------------------------
    _v("V_lumped", "V", "lumped Newton model: measured voltage at equal current, I R_V(T_lumped)"),
    _v("T_mean_lumped", "K", "lumped Newton model temperature at equal current (low-power hA)"),
    _v("P_lumped", "W", "lumped Newton model Joule power of the whole device at equal current, "
                        "I^2 R_2probe(T_lumped)"),
    _v("dV_rel_lumped", "1", "(V_lumped - V)/V at equal current"),
    _v("dT_lumped", "K", "T_mean_lumped - T_mean at equal current"),
    _v("dT_conductance", "K", "part of dT_lumped from the thermal conductance changing with T: "
                              "T_lumped(hA0) - T_lumped(hA_eff(P))"),
    _v("dT_nonuniform", "K", "part of dT_lumped from the non-uniform temperature: T_lumped(hA_eff(P)) - T_mean"),
    _v("dV_rel_conductance", "1", "part of dV_rel_lumped from the conductance changing with T"),
    _v("dV_rel_nonuniform", "1", "part of dV_rel_lumped from the non-uniform temperature"),
    _v("probe_ratio_change", "1", "(V_4probe/V_2probe)/(its low-power value) - 1"),
    _v("P_4probe_error", "1", "1 - I V_4probe/P: the heat load missed by taking I V_4probe as P"),
    # -- transient -----------------------------------------------------------------------------
    _v("time", "s", "time"),
    _v("Q_out", "W", "heat leaving through baths and cooled surfaces"),
    _v("E_stored", "J", "heat stored above the initial state (enthalpy sum)"),
    _v("step", "s", "time step that ended here"),
    _v("order", "1", "BDF order of the step (0: electric re-solve at a breakpoint)", integer=True),
    _v("bias", "1", "waveform value (A, V or W, see attrs mode)"),
    _v("tau", "s", "pulse width"),
    _v("amplitude", "1", "pulse amplitude"),
    _v("heating_error", "1", "heating error of the sample"),
    _v("sample_time", "s", "sampling instant from the first leading edge"),
    _v("max_heating_error", "1", "largest heating error over the points"),
    # -- hot spot ------------------------------------------------------------------------------
    _v("mu_min", "1/s", "smallest decay rate of perturbations (Eq. 1)"),
    _v("mu_re", "1/s", "decay rate (real part; < 0: growing)"),
    _v("mu_im", "1/s", "decay rate (imaginary part)"),
    _v("n_unstable", "1", "number of growing modes (negative decay rates)", integer=True),
    _v("hot_current_fraction", "1", "share of the current through the hottest 10 % of the region area"),
    _v("offset", "m", "distance of the temperature maximum from the region centre"),
    _v("x_hot", "m", "x of the temperature maximum relative to the region centre"),
    _v("y_hot", "m", "y of the temperature maximum relative to the region centre"),
    _v("asymmetry", "1", "||T - mirror(T)|| / (2 ||T - T_bath||) over the region"),
    _v("mode", "1", "decay-rate mode index (smallest first)", integer=True),
    _v("bifurcation", "1", "bifurcation index", integer=True),
    # -- rf ------------------------------------------------------------------------------------
    _v("X", "m", "position along the junction"),
    _v("V_rf0", "V", "drive amplitude"),
    _v("P_av", "W", "available power of the Thevenin source"),
    _v("n", "1", "step order", integer=True),
    _v("Vrf_abs", "V", "rf voltage amplitude |V_rf(X)|"),
    _v("Vrf_phase", "rad", "rf voltage phase psi(X)"),
    _v("V_rf", "V", "junction rf amplitude from harmonic balance"),
    _v("I_unpumped", "A", "dc current without rf, I_0(V)"),
    _v("I_pumped", "A", "dc current with rf"),
    _v("I_classical", "A", "dc current, classical rf detection"),
    _v("dIdV_pumped", "S", "differential conductance with rf"),
    _v("dIdV_unpumped", "S", "differential conductance without rf"),
    _v("qp_weight", "1", "quasiparticle step weight"),
    _v("qp_step", "A", "quasiparticle step height"),
    _v("josephson_positionwise", "1", "Josephson step amplitude, position by position"),
    _v("josephson_coherent", "1", "Josephson step amplitude, coherent over the junction"),
    _v("uniform_Jn2", "1", "J_n^2 of a uniform drive"),
    _v("uniform_Jn_abs", "1", "|J_n| of a uniform drive"),
    _v("n_solutions", "1", "number of self-consistent heating solutions", integer=True),
    _v("rf_solutions", "1", "harmonic-balance solutions found (the smallest is used)", integer=True),
    # rf with self-heating (issue 15)
    _v("I_pumped_isothermal", "A", "dc current with rf, junction at the bath temperature"),
    _v("T_junction", "K", "junction temperature, self-consistent with its dissipation"),
    _v("T_junction_max", "K", "hottest junction temperature"),
    _v("T_X_hottest", "K", "junction temperature along X at the bias where it peaks"),
    _v("P_dc", "W", "dc power V I_dc"),
    _v("P_rf", "W", "absorbed rf power"),
    _v("heat_balance", "1", "relative residual of the junction's heat balance"),
    _v("V_rf_isothermal", "V", "junction rf amplitude, junction at the bath temperature"),
    _v("coupling_change", "K", "last change of T_junction in the V_rf <-> T iteration"),
    _v("qp_step_position_isothermal", "V", "bias of step n's edge (max dI/dV), no self-heating"),
    _v("qp_step_position_heated", "V", "bias of step n's edge (max dI/dV), self-heated"),
    _v("qp_step_shift_heating", "V", "shift of step n's edge caused by self-heating"),
    _v("qp_step_measured", "A", "rise of the pumped I-V across step n"),
    _v("qp_step_measured_isothermal", "A", "rise of the pumped I-V across step n, no self-heating"),
    _v("V_rf_at_step", "V", "junction rf amplitude at the step's centre"),
    # -- mesh fields (VTU) -----------------------------------------------------------------------
    _v("phi", "V", "electric potential", location="node"),
    # (VTK's fonts draw no "|": a label "|J|" would read "J")
    _v("J", "A/m^2", "current density, cell mean", label="J magnitude", location="cell", cmap="plasma"),
    _v("J_abs", "A/m^2", "magnitude of the cell-mean current density", label="J magnitude", location="cell",
       cmap="plasma"),
    _v("joule", "W/m^3", "Joule heat density, cell mean of grad phi . sigma grad phi", label="q_joule",
       location="cell", cmap="magma", aliases=("q_joule",)),
]

#: short name -> Variable
VARIABLES: dict[str, Variable] = {v.name: v for v in _ALL}
#: other names of a variable -> its name ("q_joule" -> "joule")
ALIASES: dict[str, str] = {a: v.name for v in _ALL for a in v.aliases}
#: the mesh fields written to VTU files, in the order of the registry
FIELDS: dict[str, Variable] = {v.name: v for v in _ALL if v.location}


def get(name: str) -> Variable | None:
    """The registry entry of ``name`` or of an alias of it; None for a name femsim does not know."""
    return VARIABLES.get(ALIASES.get(name, name))


def canonical(name: str) -> str:
    """``name`` with an alias resolved ("q_joule" -> "joule")."""
    return ALIASES.get(name, name)


def units(name: str, default: str = "1") -> str:
    """Displayed SI unit of ``name`` ("Ohm"); ``default`` for unknown names."""
    v = get(name)
    return v.units if v else default


def label(name: str) -> str:
    """Displayed label of ``name`` ("dI/dV" for dIdV); the name itself when unknown."""
    v = get(name)
    return v.shown if v else name


def attrs(name: str, long_name: str | None = None, units: str | None = None) -> dict:
    """``{"units", "long_name"}`` of ``name`` (KeyError for a name not in the registry:
    a new output variable is registered here first)."""
    return VARIABLES[canonical(name)].attrs(long_name, units)


def table(names, long_names: dict | None = None) -> dict[str, tuple[str, str]]:
    """``name -> (units, long_name)`` of ``names``, with more specific long names where given."""
    long_names = long_names or {}
    return {n: (VARIABLES[n].units, long_names.get(n, VARIABLES[n].long_name)) for n in names}
