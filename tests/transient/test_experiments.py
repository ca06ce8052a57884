"""Virtual experiments on the transient solver: the time-constant fit against a known
two-exponential response, the pulsed I-V between the heating-free and the steady limit."""

import numpy as np
import pytest

from femsim.fem.experiments import fit_time_constants, pulsed_iv
from femsim.fem.timestepping import TransientOptions

from transient_helpers import coupled_slab


def test_time_constant_fit_recovers_two_exponentials():
    t = np.concatenate([[0.0], np.geomspace(1e-9, 1e-3, 400)])
    y = 15.0 + 5.0 * (1 - 0.3 * np.exp(-t / 2e-8) - 0.7 * np.exp(-t / 4e-5))
    f = fit_time_constants(t, y, y_inf=20.0)
    assert f["tau_2"] == pytest.approx([2e-8, 4e-5], rel=1e-3)
    assert f["amp_2"] == pytest.approx([0.3, 0.7], rel=1e-3)
    assert f["rms_2"] < 1e-4 < f["rms_1"]
    assert f["tau_late"] == pytest.approx(4e-5, rel=0.02)


def test_pulsed_iv_short_pulses_are_heating_free_long_ones_steady():
    ts, s = coupled_slab()
    amps = [1e-3, 3e-3, 5e-3]
    ds = pulsed_iv(ts, amps, [1e-10, 1e-8, 1e-5], options=TransientOptions(rtol=1e-4))
    assert ds["V"].dims == ("tau", "point") and ds["V"].attrs["units"] == "V"
    err = ds["max_heating_error"].values
    print("pulsed I-V heating error by width", err)
    assert err[0] < 0.01 < err[-1] and np.all(np.diff(err) > 0)
    # a pulse much longer than the thermal time samples the steady state
    assert np.allclose(ds["V"].values[-1], ds["V_steady"].values, rtol=1e-4)
    assert ds.attrs["tau_max_within_tolerance"] == 1e-10
    assert 1e-10 < ds.attrs["tau_at_tolerance"] < 1e-8
