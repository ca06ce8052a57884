"""The case's materials as `femsim.materials.Material` objects: built-in, overridden or a
contact layer, each property under the case key that supplied it, so that an
out-of-range temperature names the key to change."""

from __future__ import annotations

import dataclasses

from ..errors import CaseError
from ..materials import PROPERTIES, Material, get_material


def _layer_thickness(mesh, elements) -> float:
    z = mesh.p[2, mesh.t[:, elements]]
    return float(z.max() - z.min())


def build_material(name: str, spec, md) -> Material:
    """One subdomain's Material from its case spec (built-in, overrides, or contact layer),
    each property under the case key that supplied it (`_keyed`); a calibrated rho_c is
    still its placeholder (`prepare` fits it)."""
    from ..fem import contact_layer_material

    if spec.contact_resistance is not None:
        kappa = spec.kappa or spec.kappa_c
        if kappa is None:
            raise CaseError(f"materials.{name}.kappa", CaseError.MISSING,
                            "the thermal conductivity of the contact layer (kappa)")
        m = contact_layer_material(name, spec.contact_resistance, _layer_thickness(md.mesh, md.subdomains[name]),
                                   kappa=kappa)
        return _keyed(m, name, spec, {"rho_c": "contact_resistance", "kappa_ab": "kappa", "kappa_c": "kappa"})
    base = None
    if spec.builtin is not None:
        try:
            base = get_material(spec.builtin, **({"rrr": spec.rrr} if spec.rrr else {}))
        except KeyError as e:
            raise CaseError(f"materials.{name}.builtin", spec.builtin, str(e).strip("'\"")) from None
        except TypeError:   # a parameter this built-in does not take
            raise CaseError(f"materials.{name}.rrr", spec.rrr, f"no rrr for {spec.builtin} (a residual "
                            "resistance ratio is a parameter of Au and Sn)") from None
    pick = lambda iso, own, attr: iso or own or getattr(base, attr)  # noqa: E731
    given = {"rho_ab": "rho" if spec.rho else "rho_ab", "rho_c": "rho" if spec.rho else "rho_c",
             "kappa_ab": "kappa" if spec.kappa else "kappa_ab", "kappa_c": "kappa" if spec.kappa else "kappa_c"}
    own = {attr for attr, key in given.items() if getattr(spec, key) is not None}
    if spec.heat_capacity is not None:
        own.add("heat_capacity")
    # a built-in's notes hold for the properties it still supplies
    notes = tuple(n for n in (base.notes if base else ()) if not set(n.properties) <= own)
    notes = tuple(dataclasses.replace(n, properties=tuple(p for p in n.properties if p not in own)) for n in notes)
    m = Material(name, pick(spec.rho, spec.rho_ab, "rho_ab"), pick(spec.rho, spec.rho_c, "rho_c"),
                 pick(spec.kappa, spec.kappa_ab, "kappa_ab"), pick(spec.kappa, spec.kappa_c, "kappa_c"),
                 spec.heat_capacity or (base.heat_capacity if base else None),
                 base.source if base else "given in the case file", notes)
    return _keyed(m, name, spec, given)


def _keyed(m: Material, name: str, spec, keys: dict) -> Material:
    """Each property of ``m`` under its case key ("materials.mesa.rho_c"): its out-of-range
    error names the key and the ways out; a declared ``extrapolation`` extends it."""
    from ..properties import Calibrated, CaseKey, Extrapolated

    def wrap(attr, p):
        if p is None or isinstance(p, Calibrated):
            return p
        if spec.extrapolation != "error":
            p = Extrapolated(p, spec.extrapolation, name=p.name)
        return CaseKey(p, f"materials.{name}.{keys.get(attr, attr)}")

    return dataclasses.replace(m, **{a: wrap(a, getattr(m, a)) for a in PROPERTIES})
