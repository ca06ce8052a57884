"""The resume checkpoint of a bias sweep: ``resume/checkpoint.npz`` in its results directory.

One file, replaced atomically after each converged point (a kill at any instant leaves
the previous or the new checkpoint, never a mix): the readouts of every point (JSON
inside), the last state (z, phi, T) and the continuation's own state, so `--resume`
continues the sweep exactly. A study never calls this module: it hands its points to
the sink the runner gave it (`femsim.results.StudySink`), which writes through here.
"""

from __future__ import annotations

import json

import numpy as np

PATH = "resume/checkpoint.npz"

#: scalar readouts of a Point kept in the checkpoint (fields are not: they are large)
POINT_KEYS = ("mode", "value", "I", "V", "V_4p", "V_3p", "P", "P_IV", "T_mean", "T_max", "hA_eff", "heat_out",
              "electrode_currents", "energy_balance", "current_balance", "newton_steps", "residual_history",
              "time_s", "dV_ds", "dI_ds", "dV4p_ds", "turning", "T_spread", "P_region")


def write(out, points, saved, state, finished=False) -> None:
    """Everything `--resume` needs into ``out`` (a `femsim.results.ResultDir`): the points,
    the indices of the points whose fields are saved, the continuation ``state`` (a dict;
    arrays go into the .npz beside the JSON). ``finished``: the sweep ended by its own stop
    conditions; a resume only redoes the post-processing."""
    state = state or {}
    # the continuation state refers to its last main point, which a turning point may follow
    last = points[int(state["yielded"]) - 1] if "yielded" in state and not finished else points[-1]
    meta = {"points": [{k: getattr(p, k) for k in POINT_KEYS} for p in points], "fields_saved_at": saved,
            "finished": finished,
            "continuation": {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}}
    arrays = {f"cont_{k}": v for k, v in state.items() if isinstance(v, np.ndarray)}
    out.npz(PATH, meta=np.array(json.dumps(meta, default=_plain)), z=last.z, phi=last.phi, T=last.T, **arrays)


def _plain(x):
    """numpy values as JSON (NaN and infinities kept as such: the resumed curve is the same)."""
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"{type(x).__name__} in a checkpoint")


def restore(out):
    """(points, saved field indices, continuation state, finished) from the checkpoint in
    ``out``, or None (none there, or one that cannot be continued exactly)."""
    from .fem import Point

    path = out.path / PATH
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as f:
        data = json.loads(str(f["meta"]))
        last = {k: f[k] for k in ("z", "phi", "T")}
        state = dict(data["continuation"], **{k[5:]: f[k] for k in f.files if k.startswith("cont_")})
    points = [Point(**{k: d[k] for k in POINT_KEYS if k in d}) for d in data["points"]]   # (older: fewer keys)
    if data.get("finished"):
        n = len(points)
    elif "yielded" not in state:
        return None  # a checkpoint without continuation state cannot be continued exactly
    else:
        # turning points found after the last main point are found again on the way on
        n = int(state["yielded"])
        points = points[:n]
        if len(points) < n:
            return None
    points[-1].z, points[-1].phi, points[-1].T = last["z"], last["phi"], last["T"]
    return points, [k for k in data["fields_saved_at"] if k < n], state, bool(data.get("finished"))


def stopped(bias, points, state) -> bool:
    """Whether the checkpointed sweep has met one of its stop conditions already (a kill
    after its last point, before the checkpoint said so): the sweep's own rules."""
    from .fem.continuation import exceeds

    last = points[-1]
    if bias.continuation == "natural":
        return int(state.get("k", 0)) >= bias.points
    npts = int(state.get("npts", 0))
    if npts >= bias.max_points:
        return True
    if npts > 0 and last.mode != "arclength":   # the final point, solved exactly at the stop value
        return True
    return bool(bias.T_max_limit) and exceeds(last, "T_max", bias.T_max_limit)
