"""The BDF scheme and its step controller, apart from any finite-element problem.

* BDF2 at constant steps has the textbook coefficients a0 = 3/2, a1 = 1/2 and Milne's
  error constant K = 2/5;
* at any step ratio the predictor and the BDF2 corrector are exact on quadratics, BDF1's
  corrector and predictor on linear functions;
* the error estimate K (y^c - y^p) equals the corrector's true error exactly on the lowest
  polynomial it does not integrate (t^2 for BDF1, t^3 for BDF2), at any step ratio;
* the controller lands on stops (stretching a step by up to a quarter), does not stretch
  again after a rejected landing step, and grows steps as the module docstring says.
"""

import numpy as np
import pytest

from femsim.errors import ConvergenceError
from femsim.fem.timestepping import StepController, TransientOptions, bdf_step


def _corrector(s, y_n, y_nm1, dydt_new):
    """The BDF solution of y' = g(t) (no y dependence): a0 (y - y_n) - a1 (y_n - y_{n-1}) = h g."""
    return y_n + (s.h * dydt_new + s.a1 * (y_n - y_nm1)) / s.a0


def test_bdf2_at_constant_steps_has_the_textbook_coefficients():
    s = bdf_step(0.1, 1.0, np.array([2.0]), np.array([0.5]), previous=(0.9, np.array([1.9])))
    assert s.order == 2 and s.ratio == pytest.approx(1.0, rel=1e-12)
    assert (s.a0, s.a1) == pytest.approx((1.5, 0.5), rel=1e-12)
    assert s.K == pytest.approx(0.4, rel=1e-12)
    s1 = bdf_step(0.1, 1.0, np.array([2.0]), np.array([0.5]))
    assert (s1.order, s1.a0, s1.a1, s1.K) == (1, 1.0, 0.0, 0.5)


@pytest.mark.parametrize("w", [0.3, 1.0, 1.9])
def test_predictor_and_corrector_are_exact_on_quadratics(w):
    def y(t):
        return 2.0 + 3.0 * t - 5.0 * t * t

    def dy(t):
        return 3.0 - 10.0 * t

    t_p, hn = 0.2, 0.05
    t_n, h = t_p + hn, w * hn
    s = bdf_step(h, t_n, np.array([y(t_n)]), np.array([dy(t_n)]), previous=(t_p, np.array([y(t_p)])))
    assert s.predictor[0] == pytest.approx(y(t_n + h), rel=1e-13)
    assert _corrector(s, y(t_n), y(t_p), dy(t_n + h)) == pytest.approx(y(t_n + h), rel=1e-13)
    # BDF1 on a line
    s1 = bdf_step(h, t_n, np.array([1.0 + 4.0 * t_n]), np.array([4.0]))
    assert s1.predictor[0] == pytest.approx(1.0 + 4.0 * (t_n + h), rel=1e-14)
    assert _corrector(s1, 1.0 + 4.0 * t_n, 0.0, 4.0) == pytest.approx(1.0 + 4.0 * (t_n + h), rel=1e-14)


@pytest.mark.parametrize("w", [0.25, 1.0, 2.0])
def test_the_error_estimate_is_the_corrector_error_on_the_first_polynomial_it_misses(w):
    t_p, hn = 0.3, 0.1
    t_n, h = t_p + hn, w * hn
    t1 = t_n + h
    nodes = np.array([0])
    # BDF2 on y = t^3
    s = bdf_step(h, t_n, np.array([t_n ** 3]), np.array([3 * t_n ** 2]), previous=(t_p, np.array([t_p ** 3])))
    y_c = _corrector(s, t_n ** 3, t_p ** 3, 3 * t1 ** 2)
    assert abs(y_c - t1 ** 3) > 1e-6                       # BDF2 does not integrate a cubic exactly
    assert s.local_error(np.array([y_c]), nodes) == pytest.approx(abs(y_c - t1 ** 3), rel=1e-9)
    # BDF1 on y = t^2
    s1 = bdf_step(h, t_n, np.array([t_n ** 2]), np.array([2 * t_n]))
    y_c1 = _corrector(s1, t_n ** 2, 0.0, 2 * t1)
    assert s1.local_error(np.array([y_c1]), nodes) == pytest.approx(abs(y_c1 - t1 ** 2), rel=1e-9)
    assert s1.local_error(np.array([y_c1]), np.array([], int)) == 0.0


def test_steps_land_on_stops_and_a_rejected_landing_step_is_not_stretched_again():
    ctl = StepController(TransientOptions(), 0.0, 1.0, [0.5, 1.0], {0.5})
    ctl.restart(np.array([0.0, 2.0]), 0.0)
    # the first step changes T by a tenth of the tolerance (atol = 1e-3 K) at dT/dt = 2 K/s
    assert ctl.h == pytest.approx(0.1 * 1e-3 / 2.0, rel=1e-14)
    ctl.h = 0.45                                         # within a quarter of the breakpoint
    h, t_new, at_break = ctl.propose(0.0)
    assert (h, t_new, at_break) == (0.5, 0.5, True)
    ctl.reject(h, 1.1, 1, 0.0)                           # 0.5 * 0.9 / sqrt(1.1) = 0.429
    assert ctl.h == pytest.approx(0.5 * 0.9 / np.sqrt(1.1), rel=1e-14)
    h, t_new, at_break = ctl.propose(0.0)                # stretched it would be 0.5 again
    assert h == pytest.approx(0.429, abs=1e-3) and t_new == h and not at_break
    ctl.accept(h, 0.5, 1)
    h, t_new, at_break = ctl.propose(t_new)              # stretching is allowed again
    assert t_new == 0.5 and at_break
    with pytest.raises(ConvergenceError, match="h_min"):
        ctl.reject(1e-12, 1e6, 1, 0.0)


def test_start_up_grows_tenfold_then_bdf2_holds_or_grows_within_its_limit():
    ctl = StepController(TransientOptions(), 0.0, 1.0, [1.0], set())
    ctl.restart(np.array([1.0]), 0.0)
    ctl.h = 1e-6
    h, t_new, _ = ctl.propose(0.0)
    assert ctl.order(have_previous=True) == 1            # start-up: first order
    ctl.accept(h, 0.0, 1)
    assert ctl.h == pytest.approx(10 * h, rel=1e-14) and ctl.startup
    ctl.accept(ctl.h, 0.5, 1)                            # 0.9 / sqrt(0.5) = 1.27 < 2: error-limited
    assert not ctl.startup and ctl.order(have_previous=True) == 2 and ctl.order(have_previous=False) == 1
    h = ctl.h
    ctl.accept(h, 0.5 ** 3, 2)                           # factor 0.9 * 2 = 1.8 of BDF2
    assert ctl.h == pytest.approx(1.8 * h, rel=1e-14)
    h = ctl.h
    ctl.accept(h, 0.5, 2)                                # factor 1.13: held (the factorisation serves)
    assert ctl.h == h
    ctl.accept(h, 0.0, 2)                                # no error: the step-ratio limit 2 of BDF2
    assert ctl.h == pytest.approx(2 * h, rel=1e-14)
