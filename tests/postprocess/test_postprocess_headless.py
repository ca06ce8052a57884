"""A fresh interpreter with no display renders views and writes figures: what CI and a
user's `femsim run` over ssh get."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.image as mpimg

HERE = Path(__file__).parent

SCRIPT = r"""
import json, os, sys
sys.path.insert(0, {here!r})
import pp_synthetic
from femsim.postprocess import plots, views   # views must set up off-screen rendering by itself
import pyvista as pv
vtu = pp_synthetic.write_bias_point({out!r} + "/point_0000.vtu")
r = views.view(vtu, field="T", window_size=(320, 240))
written = {{"iv": plots.save(plots.iv(pp_synthetic.curve_dataset()), {out!r} + "/plots/iv", ("png", "pdf"))}}
print(json.dumps({{"egl": os.environ.get("VTK_DEFAULT_OPENGL_WINDOW"), "off_screen": pv.OFF_SCREEN,
                  "png": str(r.path), "figures": [str(p) for v in written.values() for p in v]}}))
"""


def test_fresh_process_without_display_renders_and_plots(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "VTK_DEFAULT_OPENGL_WINDOW", "MPLBACKEND")}
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(here=str(HERE), out=str(tmp_path))],
                          env=env, capture_output=True, text=True, timeout=120, cwd=HERE.parents[1])
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["egl"] == "vtkEGLRenderWindow" and result["off_screen"] is True
    image = mpimg.imread(result["png"])
    assert image.shape[:2] == (240, 320) and image[..., :3].std() > 0.05
    figures = [Path(p) for p in result["figures"]]
    assert [p.name for p in figures] == ["iv.png", "iv.pdf"]
    for p in figures:
        head = p.read_bytes()[:8]
        assert head.startswith(b"\x89PNG\r\n\x1a\n") if p.suffix == ".png" else head.startswith(b"%PDF-")
