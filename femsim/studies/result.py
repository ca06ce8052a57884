"""What a study returns: datasets, key figures and field snapshots (written by
`femsim.results.ResultDir`, never by the study)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import xarray as xr


@dataclass
class FieldSnapshot:
    """One 3D state to be written as a VTU file: its mesh and a callable giving its fields
    (femsim.fem.point_fields: computed when written, one snapshot at a time)."""

    mesh: object
    fields: Callable[[], dict]


@dataclass
class StudyResult:
    """What a study produced: curve datasets by file stem, key figures for summary.json,
    field snapshots by file name ("fields/onset.vtu")."""

    datasets: dict[str, xr.Dataset] = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    fields: dict[str, FieldSnapshot] = field(default_factory=dict)
    status: str = "complete"
    message: str = ""
