"""Regenerate docs/gallery.md and docs/gallery/*.png from the bundled cases.

    python docs/gallery.py [--runs DIR] [--reuse] [CASE ...]     (or: make gallery)

Runs every case of cases/ (or the named ones) with `femsim run` into DIR (default
results/gallery; nothing outside it is written but docs/gallery*), copies the PNGs each
run drew into docs/gallery/ at a screen resolution, adds the Joule-heat view of FEM
runs, and writes docs/gallery.md with each case's title and the figures under it.
``--reuse`` keeps a finished run (summary.json "complete") instead of running it again.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "gallery"
PAGE = ROOT / "docs" / "gallery.md"
#: width of the gallery images [px] (the plots are written at 300 dpi for print)
WIDTH = 700

#: what each plot shows, for the captions
CAPTIONS = {
    "iv": "I-V (FEM solid, lumped dashed; turning points marked)",
    "didv": "differential conductance dI/dV",
    "r_vs_p": "R = V/I versus dissipated power",
    "temperatures_vs_p": "mean and peak temperature versus power",
    "temperature_3d": "temperature field at the last saved bias point",
    "joule_3d": "Joule heat density (log scale) cut open",
    "time_traces": "drive, power and temperature versus time",
    "step_response": "temperature rise after a bias step, with the fitted time constants",
    "vrf_profile": "rf voltage along the junction",
    "pumped_iv": "photon-assisted tunnelling: pumped I-V and dI/dV",
    "step_amplitudes": "step amplitudes versus rf drive",
}


def run(case: Path, runs: Path, reuse: bool) -> Path:
    out = runs / case.stem
    summary = out / "summary.json"
    if reuse and summary.is_file() and json.loads(summary.read_text()).get("status") == "complete":
        return out
    cmd = [sys.executable, "-m", "femsim.cli", "--quiet", "run", str(case), "--out", str(out), "--overwrite"]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return out


def shrink(src: Path, dst: Path) -> None:
    from PIL import Image
    with Image.open(src) as im:
        im = im.convert("RGB")
        if im.width > WIDTH:
            im = im.resize((WIDTH, round(im.height * WIDTH / im.width)), Image.LANCZOS)
        dst.parent.mkdir(parents=True, exist_ok=True)
        # 256 colours: line plots and smooth colour maps lose nothing visible, the repository
        # a third of the bytes
        im.quantize(256).save(dst, optimize=True)


def joule_view(run_dir: Path, dst: Path) -> bool:
    from femsim.postprocess import views
    try:
        vtu = views.last_field_file(run_dir)
    except FileNotFoundError:
        return False
    tmp = run_dir / "plots" / "joule_3d.png"
    views.joule(vtu, tmp)
    shrink(tmp, dst)
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases", nargs="*", help="case files (default: every cases/*.toml)")
    ap.add_argument("--runs", type=Path, default=ROOT / "results" / "gallery", help="where the runs go")
    ap.add_argument("--reuse", action="store_true", help="keep finished runs")
    args = ap.parse_args(argv)
    cases = [Path(c) for c in args.cases] or sorted((ROOT / "cases").glob("*.toml"))
    sections = []
    for case in cases:
        meta = tomllib.loads(case.read_text())
        print(f"gallery: {case.stem}", flush=True)
        run_dir = run(case, args.runs, args.reuse)
        summary = json.loads((run_dir / "summary.json").read_text())
        shown = []
        for name, files in (summary.get("plots") or {}).items():
            png = next((run_dir / f for f in files if f.endswith(".png")), None)
            if png is not None and png.is_file():
                target = OUT / f"{case.stem}_{name}.png"
                shrink(png, target)
                shown.append((name, target))
        if meta.get("study") == "fem" and joule_view(run_dir, OUT / f"{case.stem}_joule_3d.png"):
            shown.append(("joule_3d", OUT / f"{case.stem}_joule_3d.png"))
        lines = [f"## {meta.get('title', case.stem)}", "",
                 f"`cases/{case.name}` ({meta.get('study')} study)", ""]
        for name, target in shown:
            rel = target.relative_to(PAGE.parent).as_posix()
            lines += [f"**{CAPTIONS.get(name, name)}**", "", f"![{case.stem} {name}]({rel})", ""]
        sections.append("\n".join(lines))
    head = ["# What femsim draws", "",
            "Every figure below was drawn by `femsim run` from a case bundled in `cases/`, unedited "
            "(scaled to screen width). Regenerate with `make gallery` (runs all cases, a few minutes).", ""]
    PAGE.write_text("\n".join(head) + "\n" + "\n".join(sections))
    print(f"gallery: wrote {PAGE.relative_to(ROOT)} and {len(list(OUT.glob('*.png')))} images in "
          f"{OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
