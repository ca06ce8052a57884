"""docs/gallery.md shows every bundled case, and every image it names is in docs/gallery/."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gallery_covers_every_case_and_its_images_exist():
    page = (ROOT / "docs" / "gallery.md").read_text(encoding="utf-8")
    for case in sorted((ROOT / "cases").glob("*.toml")):
        assert f"`cases/{case.name}`" in page, f"{case.name} missing from the gallery (run `make gallery`)"
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page)
    assert len(images) >= 2 * len(list((ROOT / "cases").glob("*.toml")))
    for rel in images:
        path = ROOT / "docs" / rel
        assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", rel
