"""The progress line of a sweep (issue 13): bias point with total, value with unit, T_max,
Newton steps, time left; -v adds the linear-solver work."""

from types import SimpleNamespace

from femsim import progress


def _pt(I, V, T, newton=3, turning=None):
    return SimpleNamespace(I=I, V=V, T_max={"all": T}, newton_steps=newton, turning=turning)


def test_si_prefixes():
    assert progress.si(1.25e-3, "A") == "1.25 mA"
    assert progress.si(0.5, "V") == "500 mV"
    assert progress.si(2.0e-6, "W") == "2 uW"
    assert progress.si(-3.3e-9, "A") == "-3.3 nA"
    assert progress.si(0.0, "A") == "0 A"
    assert progress.si(0.9996e-3, "A") == "1 mA"     # rounds up into the next prefix
    assert progress.duration(65) == "1 min 05 s" and progress.duration(7) == "7 s"


def test_natural_sweep_line_and_time_left(monkeypatch):
    monkeypatch.setattr(progress, "VERBOSITY", "normal")
    t = [0.0]
    sp = progress.SweepProgress("current", total=4, clock=lambda: t[0])
    t[0] = 10.0
    sp.update(_pt(1.25e-3, 0.1, 12.34))
    t[0] = 20.0
    line = sp.update(_pt(2.5e-3, 0.2, 20.0, newton=2))
    # 2 of 4 points in 20 s: 20 s left
    assert line == "point 2/4  I = 2.5 mA  T_max = 20 K  Newton 2  ~20 s left"


def test_arclength_time_left_from_the_stop_value_and_verbose_linear_work(monkeypatch):
    monkeypatch.setattr(progress, "VERBOSITY", "verbose")
    stats = {"name": "amg", "n_iter": 0}
    lin = SimpleNamespace(stats=lambda: dict(stats))
    t = [0.0]
    sp = progress.SweepProgress("current", stop=10e-3, T_limit=100.0, T_bath=4.2, max_points=400,
                                linear=lin, clock=lambda: t[0])
    t[0] = 30.0
    stats["n_iter"] = 85
    line = sp.update(_pt(2.5e-3, 0.3, 9.0))        # a quarter of the stop current in 30 s
    assert line.startswith("point 1  I = 2.5 mA  T_max = 9 K  Newton 3  GMRES 85 its")
    assert line.endswith("~1 min 30 s left")
    # T_max nearer its limit than I to its stop: the furthest sets the estimate
    t[0] = 60.0
    line = sp.update(_pt(3e-3, 0.3, 4.2 + 0.5 * 95.8, turning="V_max"))
    assert "V max" in line and line.endswith("~1 min 00 s left") and "GMRES 0 its" in line


def test_sweep_bar_passes_points_through_and_is_silent_off_a_terminal(capsys):
    pts = [_pt(1e-3, 0.1, 5.0), _pt(2e-3, 0.2, 6.0)]
    assert list(progress.sweep_bar(iter(pts), "current", total=2)) == pts
    assert capsys.readouterr().err == ""
