"""Graded 1D spacings: exact end points, requested end cells, bounded growth."""

import numpy as np
import pytest

from femsim.geometries.grading import graded, join


@pytest.mark.parametrize("a, b, ha, hb, r", [(0.0, 5e-6, 1e-7, None, 1.3), (-5e-6, 5e-6, 1e-7, 1e-7, 1.3),
                                              (20e-6, 20e-6 + 30e-9, None, 5e-9, 1.2), (0.0, 1.0, 1e-4, 1e-2, 1.5)])
def test_graded_spacing(a, b, ha, hb, r):
    x = graded(a, b, h_a=ha, h_b=hb, ratio=r)
    h = np.diff(x)
    assert x[0] == a and x[-1] == b and np.all(h > 0)
    if ha:
        assert h[0] == pytest.approx(ha, rel=0.3)
    if hb:
        assert h[-1] == pytest.approx(hb, rel=0.3)
    q = h[1:] / h[:-1]
    assert np.all(q < r * 1.001) and np.all(q > 1 / (r * 1.001))


def test_uniform_and_minimum_cells():
    np.testing.assert_allclose(graded(0.0, 1.0, n_min=4), [0, 0.25, 0.5, 0.75, 1.0], rtol=0, atol=1e-15)
    assert len(graded(0.0, 1.0, h_max=0.3)) - 1 == 4


def test_join_needs_exactly_matching_ends():
    """Segments are joined by end points, never by np.unique (which would keep
    30.0 and 30.000000001 side by side and make a zero-volume hexahedron)."""
    x = join(graded(0.0, 30.0, h_b=1.0), graded(30.0, 31.0, n_min=3))
    assert np.all(np.diff(x) > 0.1)
    with pytest.raises(ValueError, match="segment starts"):
        join(graded(0.0, 30.0), graded(30.000000001, 31.0))
