"""Bias waveforms: values, left limits at jumps, breakpoints, construction from a dict."""

import pytest

from femsim.fem.waveforms import PulseTrain, Ramp, Sine, Step, waveform_from_dict


def test_waveforms_values_and_breakpoints():
    p = PulseTrain(2.0, width=1.0, period=10.0, count=2, delay=0.5)
    assert [p.value(t) for t in (0.0, 0.5, 1.0, 1.5, 10.5, 11.49, 20.5)] == [0, 2, 2, 0, 2, 2, 0]
    assert p.value(1.5, left=True) == 2 and p.value(0.5, left=True) == 0
    assert p.breakpoints(0, 100) == [0.5, 1.5, 10.5, 11.5]
    single = PulseTrain(1.0, 2.0)
    assert single.breakpoints(-1, 10) == [0.0, 2.0] and single.value(3.0) == 0
    r = Ramp(4.0, 2.0, delay=1.0, down=True)
    assert [r.value(t) for t in (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 9.0)] == [0, 0, 2, 4, 2, 0, 0]
    assert r.breakpoints(0, 10) == [1.0, 3.0, 5.0]
    s = Sine(1.0, 0.25, offset=0.5)
    assert s.value(1.0) == pytest.approx(1.5) and s.breakpoints(0, 10) == []
    st = Step(3.0, delay=2.0)
    assert st.value(2.0) == 3.0 and st.value(2.0, left=True) == 0.0
    w = waveform_from_dict({"kind": "pulse", "amplitude": 2e-3, "width": 1e-6, "period": 1e-5, "count": None})
    assert isinstance(w, PulseTrain) and w.count is None
    with pytest.raises(ValueError):
        PulseTrain(1.0, width=2.0, period=1.0)
