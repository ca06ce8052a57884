"""Failure path of a sweep: earlier points are kept, the failing bias is named."""

import numpy as np
import pytest

from femsim.errors import ConvergenceError
from femsim.fem import Bath, Cooling, Electrode, ElectroThermalSolver, NewtonOptions, Problem
from femsim.materials import Material
from femsim.properties import Constant
from femsim.fem.continuation import natural_sweep

from fem_helpers import InverseLinear, assert_balances, box, face

d, a, TB = 1e-6, 1e-5, 4.2


def solver():
    m = box([0, a], [0, a], np.linspace(0, d, 21)).with_subdomains({"s": lambda x: x[0] > -1})
    m = m.with_boundaries({"top": face(2, d, 1e-3 * d / 20), "bottom": face(2, 0.0, 1e-3 * d / 20)})
    mat = Material("s", Constant(1e-6), InverseLinear(100.0, 0.05, TB), Constant(5.0), Constant(0.5))
    pr = Problem(m, {"s": mat}, [Electrode("top", "bias"), Electrode("bottom", "ground")],
                 T_bath=TB, baths=[Bath("bottom")], coolings=[Cooling("top", 1e5)])
    return ElectroThermalSolver(pr)


def test_forced_nonconvergence_keeps_points_and_names_bias():
    s = solver()
    values = [0.1, 0.2, 0.3, 0.4]
    written = []
    sw = natural_sweep(s, "voltage", values, max_retries=2)
    with pytest.raises(ConvergenceError) as info:
        for p in sw:
            written.append(p)                  # a caller writing points as they come
            if len(written) == 2:
                s.options = NewtonOptions(max_newton=1)   # force the next point to fail
    err = info.value
    assert [p.V for p in written] == pytest.approx([0.1, 0.2])
    assert [p.V for p in err.points] == pytest.approx([0.1, 0.2])
    assert sw.points == written and sw.failure is err
    assert err.bias == ("voltage", 0.3)
    assert "voltage = 0.3" in str(err) and "halved 2 times" in str(err)
    assert len(err.history) >= 2 and err.history[-1] > 1e-11   # the residual history
    assert_balances(written)
    # run() collects instead of raising; with sane options the same sweep completes
    s.options = NewtonOptions()
    res = natural_sweep(s, "voltage", values).run()
    assert res.failure is None and len(res.points) == 4
    s.options = NewtonOptions(max_newton=1)
    res = natural_sweep(s, "voltage", values, max_retries=1).run()
    assert isinstance(res.failure, ConvergenceError) and res.points == []
    assert res.failure.bias == ("voltage", 0.1)


def test_keep_states_false_drops_old_fields_only():
    s = solver()
    values = [0.1, 0.2, 0.3, 0.4]
    full = natural_sweep(s, "voltage", values).run().points
    lean = natural_sweep(s, "voltage", values, keep_states=False).run().points
    assert [p.I for p in lean] == pytest.approx([p.I for p in full], rel=1e-10)
    assert all(p.T is None for p in lean[:-2]) and all(p.T is not None for p in lean[-2:])
