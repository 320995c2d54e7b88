"""The lab's definitions per kind of cell (DOMAIN.md): which half cycle a cycle starts with,
which capacity retention and rate capability are on and what the two half cycles are called,
and which reference the ±5 % loading check compares against.

Pure module. The kinds are those of the cell records: ``cathode_half`` (NaCrO2 vs Na-Sn),
``anode_half`` (Sn vs Na-Sn), ``full`` (NaCrO2 | Sn), ``three_electrode`` (a full cell with a
Na reference) and ``liquid_reference`` (a liquid-electrolyte coin cell).
"""
from __future__ import annotations

import dataclasses

VERSION = "1.0.0"
LOADING_TOLERANCE = 0.05


@dataclasses.dataclass(frozen=True)
class KindDefinition:
    """How the lab reads a kind of cell.

    ``first_half_cycle``: the half cycle a cycle starts with. ``basis``: the half cycle whose
    capacity retention, fade, cycle life, rate capability, the initial capacity and the loading
    check are on; ``basis_name`` what the lab calls it (for a Sn half cell the discharge is
    the sodiation); ``other`` and ``other_name`` the other half cycle, stored beside.
    ``loading_reference``: "material" (the active material's practical reference capacity) or
    "lab" (a reference the lab sets for the kind; without one the check does not apply).
    """

    kind: str
    label: str
    first_half_cycle: str
    basis: str
    basis_name: str
    other: str
    other_name: str
    loading_reference: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


DEFINITIONS = {
    "cathode_half": KindDefinition("cathode_half", "cathode half cells", "charge", "discharge",
                                   "discharge", "charge", "charge", "material"),
    "anode_half": KindDefinition("anode_half", "Sn half cells", "discharge", "discharge",
                                 "sodiation", "charge", "desodiation", "lab"),
    "full": KindDefinition("full", "full cells", "charge", "discharge", "discharge", "charge",
                           "charge", "lab"),
    "three_electrode": KindDefinition("three_electrode", "three-electrode full cells", "charge",
                                      "discharge", "discharge", "charge", "charge", "lab"),
    "liquid_reference": KindDefinition("liquid_reference", "liquid-electrolyte reference cells",
                                       "charge", "discharge", "discharge", "charge", "charge",
                                       "lab"),
}


def for_kind(kind: str) -> KindDefinition:
    try:
        return DEFINITIONS[kind]
    except KeyError:
        raise ValueError(f"kind must be one of {sorted(DEFINITIONS)}, not {kind!r}") from None


@dataclasses.dataclass(frozen=True)
class LoadingReference:
    """The reference the loading check compares with (None: the check does not apply) and why."""

    specific_capacity_mah_g: float | None
    source: str
    tolerance: float = LOADING_TOLERANCE


def loading_reference(kind: str, *, material_reference_mah_g: float | None,
                      material: str | None = None, lab_reference_mah_g: float | None = None,
                      tolerance: float = LOADING_TOLERANCE) -> LoadingReference:
    """The loading check's reference for a cell of this kind: for cathode half cells the active
    material's practical reference capacity (the paper's rule, 120 mAh/g for NaCrO2); for the
    other kinds the reference the lab has set for the kind, and none until it has."""
    definition = for_kind(kind)
    if definition.loading_reference == "material":
        if material_reference_mah_g:
            return LoadingReference(material_reference_mah_g,
                                    f"the practical reference capacity of {material or 'the active material'}",
                                    tolerance)
        return LoadingReference(None, f"{material or 'the active material'} has no reference "
                                      "capacity", tolerance)
    if lab_reference_mah_g:
        return LoadingReference(lab_reference_mah_g,
                                f"the lab's reference for {definition.label}", tolerance)
    return LoadingReference(None, f"no loading reference is set for {definition.label} (a lab "
                                  "manager can set one per kind of cell)", tolerance)
