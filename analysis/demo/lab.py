"""The lab of the closo-borate infiltration paper as demo records (Duchêne, Kim et al., Energy
Storage Materials 2020; /work/shared/DOMAIN.md).

``load_demo_lab()`` fills an empty database with the paper's chain: precursor lots, the
solution-route electrolyte batch, the infiltration solution, the electrode sheets with their
loading discs, punched and infiltrated electrodes, the Na-Sn alloy, two cyclers, the protocols
and the cells of the paper with their cycling runs. Every mass taken from a lot goes through
the services every other entry point uses (samples.services, cells.services), so the lots' and
batches' remaining stock reflects what was used and every rule of the lab holds.

The numbers are chosen so the derived values come out as the paper reports them: active
loadings 7.0 / 7.7 / 5.6 mg/cm² (NaCrO2) and 1.2 mg/cm² (Sn), casting porosities near 80 %,
measured uptakes 15–17 wt %, remaining porosities after pressing 30–38 %, 1 mS/cm at 25 °C,
N/P 1.20 on the half cells' measured capacities. Where the paper gives no number (lot numbers,
bottle sizes, pellet geometry, masses of the Na-Sn and separator parts, run dates), the values
are plausible choices for a demo; they are marked as such in the records' notes.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from analysis.core import process
from cells.models import (
    Cell,
    CellPart,
    Channel,
    Cycler,
    CyclingRun,
    Protocol,
)
from eln.models import Project, ProjectMembership
from eln.security.services import api_token_issue
from eln.services import project_create
from samples import models as sm
from samples.seed import seed_materials
from cells import services as cell_services
from samples import services as sample_services

PROJECT_NAME = "Closo-borate infiltration (demo)"
PROJECT_DESCRIPTION = (
    "Demo data: the lab of Duchêne, Kim et al., 'Crystallization of closo-borate electrolytes from "
    "solution enabling infiltration into slurry-casted porous electrodes for all-solid-state "
    "batteries', Energy Storage Materials 2020, doi:10.1016/j.ensm.2019.11.027. Lot numbers, "
    "bottle sizes, dates and the masses the paper does not state are invented for the demo."
)
SITE_URL = "http://127.0.0.1:8000/"
ADMIN_URL = SITE_URL + "admin/"

DISC_DIAMETER_MM = 12.0
DISC_AREA_CM2 = process.disc_area_cm2(DISC_DIAMETER_MM)
# 15 µm Al foil: 2.70 g/cm³ × 15e-4 cm = 4.05 mg/cm²; a bare 12 mm disc weighs 4.58 mg.
AL_FOIL = "Al foil, 15 µm"
AL_FOIL_AREAL_MASS_MG_CM2 = 4.05
CASTING_POROSITY_TARGET = 0.80

# The half cells' measured reversible capacities the paper balanced the full cell on (mAh/g).
SN_MEASURED_MAH_G = 634.0
NCO_MEASURED_MAH_G = 113.0

SEPARATOR_MASS_MG = 55.0  # ~0.45 mm in the 12 mm bore at 70 MPa (paper: a <500 µm pellet)
ALLOY_PART_MASS_MG = 40.0


class DemoLabError(RuntimeError):
    """The database lacks something the demo builds on (e.g. the seeded materials)."""


@dataclass(frozen=True)
class LotSpec:
    key: str
    material: str
    supplier: str
    lot_number: str
    received_days_ago: int
    quantity_mg: float
    low_stock_mg: float
    storage: str
    storage_detail: str
    state: str = sm.PrecursorLot.State.AS_RECEIVED
    purity_percent: float | None = None
    hazards: str = ""
    notes: str = ""


S, St = sm.PrecursorLot.Storage, sm.PrecursorLot.State  # short names for the table below
LOTS = [
    LotSpec("Na2B12H12", "Na2B12H12", "Katchem", "KC-B12-1903-07", 160, 5000, 1000, S.GLOVEBOX,
            "glovebox 1, shelf 2, closo-borate box", St.AS_RECEIVED, 98.0, "irritant (H315, H319, H335)",
            "Used as received (paper, section 4.1)."),
    LotSpec("Na2B10H10", "Na2B10H10", "Katchem", "KC-B10-1903-02", 160, 2000, 1500, S.GLOVEBOX,
            "glovebox 1, shelf 2, closo-borate box", St.DRIED, 98.0, "irritant (H315, H319, H335)",
            "Dried under vacuum (<1e-3 mbar) at 180 °C for 6 h before use (paper, section 4.1)."),
    LotSpec("Cr2O3", "Cr2O3", "Sigma-Aldrich", "MKCD8841", 300, 100000, 10000, S.SHELF,
            "chemicals cabinet B, oxides", St.IN_USE, 98.0, "", "For the NaCrO2 synthesis."),
    LotSpec("Na2CO3", "Na2CO3", "Sigma-Aldrich", "SLCB2290", 300, 500000, 50000, S.DESICCATOR,
            "desiccator 2", St.IN_USE, 99.5, "eye irritant (H319)", "Anhydrous; for the NaCrO2 synthesis."),
    LotSpec("NaCrO2", "NaCrO2", "in-house", "NCO-2019-01", 140, 4800, 1000, S.GLOVEBOX,
            "glovebox 1, shelf 1, vial NCO-01", St.IN_USE, None,
            "moisture sensitive; Cr(III) compound",
            "Synthesised in house (paper, section 4.1, ref. 46): Cr2O3 and Na2CO3 (1:1 molar, for 5 g of "
            "NaCrO2) mixed in a mortar for 15 min, pelletised, heat treated under argon at 900 °C for 5 h, "
            "cooled naturally in argon, transferred to the glovebox, ground and sieved to <100 µm. "
            "4.8 g recovered after sieving. The precursor masses are in the Cr2O3 and Na2CO3 lots' ledgers."),
    LotSpec("Sn", "Sn", "Sigma-Aldrich", "MKCH5512", 200, 25000, 2000, S.SHELF,
            "chemicals cabinet B, metals", St.IN_USE, 99.0, "",
            "Tin powder, 10 µm, 99 %. Air-stable: Sn anodes are cast in air."),
    LotSpec("PVDF", "PVDF", "Kureha", "KF1100-18-114", 400, 50000, 5000, S.DESICCATOR,
            "desiccator 1", St.IN_USE, None, "", "PVDF KF1100 binder."),
    LotSpec("Super P", "Super P", "Alfa Aesar", "Y22E015", 400, 50000, 5000, S.GLOVEBOX,
            "glovebox 1, shelf 3", St.IN_USE, 99.0, "",
            "Carbon black, Super P conductive; dried and kept in the glovebox."),
    LotSpec("Isopropanol", "Isopropanol", "Sigma-Aldrich", "SHBK6607", 150, 786000, 100000, S.GLOVEBOX,
            "glovebox 2, solvent rack", St.IN_USE, 99.5, "highly flammable (H225), H319, H336",
            "2-Propanol anhydrous 99.5 %, 1 L Sure/Seal bottle (786 g). Volumes used are booked as "
            "mass at 0.786 g/mL."),
    LotSpec("NMP", "NMP", "Sigma-Aldrich", "SHBL0921", 180, 1028000, 100000, S.GLOVEBOX,
            "glovebox 2, solvent rack", St.IN_USE, 99.5, "reproductive toxicity (H360D), H315, H319, H335",
            "1-Methyl-2-pyrrolidinone anhydrous 99.5 %, 1 L (1028 g). Volumes used are booked as mass "
            "at 1.028 g/mL."),
    LotSpec("Na", "Na", "Sigma-Aldrich", "MKCJ0173", 120, 10000, 1000, S.GLOVEBOX,
            "glovebox 1, shelf 1, under mineral oil", St.IN_USE, 99.9,
            "in contact with water releases flammable gas (H260); causes severe burns (H314)",
            "Sodium sticks in mineral oil; for the Na-Sn alloy, reference electrodes and coin cells."),
]


@dataclass(frozen=True)
class SheetSpec:
    key: str
    name: str
    active_lot: str
    fractions: tuple[float, float, float]  # active : PVDF : Super P, mass %
    slurry_solids_mg: float
    nmp_ml: float
    active_loading_mg_cm2: float
    cast_days_ago: int
    disc_offsets_mg: tuple[float, float, float, float]
    notes: str


SHEETS = [
    SheetSpec("NCO-95", "NaCrO2 95:2:3, 7.0 mg/cm²", "NaCrO2", (95, 2, 3), 1000, 1.2, 7.0, 95,
              (0.04, -0.03, 0.01, -0.02),
              "Cast and dried in the argon glovebox (NaCrO2 is moisture sensitive)."),
    SheetSpec("NCO-97", "NaCrO2 97:1:2, 7.7 mg/cm² (rate and retention)", "NaCrO2", (97, 1, 2), 1000, 1.2,
              7.7, 94, (-0.03, 0.02, 0.03, -0.02), "Cast and dried in the argon glovebox."),
    SheetSpec("NCO-97-FC", "NaCrO2 97:1:2, 5.6 mg/cm² (full cells)", "NaCrO2", (97, 1, 2), 1000, 1.4,
              5.6, 90, (0.02, -0.02, -0.01, 0.01),
              "Cast thinner for the full cells, to balance against the 1.2 mg/cm² Sn sheet."),
    SheetSpec("SN-90", "Sn 90:5:5, 1.2 mg/cm² (full cells)", "Sn", (90, 5, 5), 1000, 1.5, 1.2, 90,
              (0.01, -0.01, 0.01, -0.01),
              "Cast in air (Sn is air-stable), then moved into the glovebox for infiltration."),
]

# Punched electrodes: key, sheet, deviation of the coating mass from the sheet's mean, purpose.
ELECTRODES = [
    ("NCO-95-a", "NCO-95", +0.002, "half cell at 70 MPa"),
    ("NCO-95-b", "NCO-95", -0.004, "half cell at 3 MPa (spring)"),
    ("NCO-95-c", "NCO-95", +0.006, "liquid-electrolyte reference coin cell (not infiltrated)"),
    ("NCO-95-d", "NCO-95", -0.008, "characterisation: XRD, IR, SEM/EDXS of the infiltrated electrode"),
    ("NCO-97-a", "NCO-97", +0.003, "half cell, rate test and retention"),
    ("NCO-97-b", "NCO-97", -0.005, "spare"),
    # The full cells' pairs are picked so N/P (measured basis) is 1.20: a Sn coating is ~1.5 mg,
    # so one 0.01 mg step of the balance moves its loading by 0.7 %.
    ("NCO-97-FC-a", "NCO-97-FC", +0.003, "full cell"),
    ("NCO-97-FC-b", "NCO-97-FC", +0.002, "three-electrode full cell"),
    ("NCO-97-FC-c", "NCO-97-FC", -0.003, "full cell, 3.15 V cut-off"),
    ("SN-90-a", "SN-90", +0.010, "Sn half cell"),
    ("SN-90-b", "SN-90", 0.000, "full cell"),
    ("SN-90-c", "SN-90", +0.003, "three-electrode full cell"),
    ("SN-90-d", "SN-90", -0.006, "full cell, 3.15 V cut-off"),
    # Half cells from the full cells' sheets, cycled slowly: the electrodes' reference curves.
    ("NCO-97-FC-d", "NCO-97-FC", -0.002, "NaCrO2 half cell, slow cycles for the reference curve"),
    ("SN-90-e", "SN-90", +0.006, "Sn half cell, slow cycles for the reference curve"),
]

# Infiltration runs: electrode key → (measured uptake, remaining porosity after 350 MPa,
# mass lost on pressing mg). 97:1:2 takes up ~15 wt %, 95:2:3 ~17 wt % (paper, section 2).
INFILTRATION_RUNS = [
    (88, "NaCrO2 95:2:3 and 97:1:2 electrodes for the half cells", {
        "NCO-95-a": (0.166, 0.34, 0.02),
        "NCO-95-b": (0.168, 0.36, 0.02),
        "NCO-95-d": (0.164, 0.35, 0.02),
        "NCO-97-a": (0.152, 0.31, 0.02),
        "NCO-97-b": (0.155, 0.32, 0.02),
    }),
    (84, "NaCrO2 97:1:2 (5.6 mg/cm²) and Sn 90:5:5 electrodes for the Sn half cell and the full cells", {
        "NCO-97-FC-a": (0.153, 0.33, 0.02),
        "NCO-97-FC-b": (0.156, 0.32, 0.02),
        "NCO-97-FC-c": (0.151, 0.34, 0.02),
        "SN-90-a": (0.160, 0.35, 0.01),
        "SN-90-b": (0.158, 0.34, 0.01),
        "SN-90-c": (0.163, 0.36, 0.01),
        "SN-90-d": (0.157, 0.345, 0.01),
        "NCO-97-FC-d": (0.154, 0.33, 0.02),
        "SN-90-e": (0.161, 0.35, 0.01),
    }),
]

# Protocols: key → (name, description, [(cycles, charge C, discharge C, lower V, upper V)]).
RATE_STEPS = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 0.1]
PROTOCOLS = {
    "nco_retention": ("2 × 0.1C then 100 × 0.5C (2.10–3.35 V)",
                      "NaCrO2 half cell vs Na-Sn: two formation cycles at 0.1C, then 100 cycles at 0.5C. "
                      "1C = active mass × 120 mAh/g.",
                      [(2, 0.1, 0.1, 2.10, 3.35), (100, 0.5, 0.5, 2.10, 3.35)]),
    "nco_rate": ("Rate test 0.1C → 0.2 → 0.5 → 1 → 2 → 5C → 0.1C (2.10–3.35 V)",
                 "NaCrO2 half cell vs Na-Sn: 5 cycles at each rate, charge and discharge at the same rate, "
                 "back to 0.1C at the end. 1C = active mass × 120 mAh/g.",
                 [(5, c, c, 2.10, 3.35) for c in RATE_STEPS]),
    "sn_half": ("Sn half cell: 2 × 0.1C then 50 × 0.2C (0.01–2.00 V)",
                "Sn vs Na-Sn, starts with sodiation of Sn (discharge). 1C = Sn mass × 847 mAh/g.",
                [(2, 0.1, 0.1, 0.01, 2.00), (50, 0.2, 0.2, 0.01, 2.00)]),
    "full": ("Full cell: 2 × 0.1C then 50 × 0.2C (1.5–3.3 V)",
             "NaCrO2 | Sn full cell, C-rate on the cathode (120 mAh/g).",
             [(2, 0.1, 0.1, 1.5, 3.3), (50, 0.2, 0.2, 1.5, 3.3)]),
    "full_315": ("Full cell: 2 × 0.1C then 50 × 0.2C (1.5–3.15 V cut-off)",
                 "As the full-cell protocol with the upper cut-off lowered to 3.15 V (paper, Fig. S6b): "
                 "tests whether oxidation at high voltage drives the fade.",
                 [(2, 0.1, 0.1, 1.5, 3.15), (50, 0.2, 0.2, 1.5, 3.15)]),
    "nco_reference": ("NaCrO2 reference curve: 2 × C/20 (2.10–3.60 V)",
                      "NaCrO2 half cell vs Na-Sn cycled slowly over its whole sodium range (Na1 → Na0.5): the "
                      "positive electrode's reference curve for the three-electrode analysis.",
                      [(2, 0.05, 0.05, 2.10, 3.60)]),
    "sn_reference": ("Sn reference curve: 2 × C/20 (0.01–2.00 V)",
                     "Sn vs Na-Sn, starts with sodiation, cycled slowly: the negative electrode's reference curve "
                     "(both branches of its hysteresis) for the three-electrode analysis.",
                     [(2, 0.05, 0.05, 0.01, 2.00)]),
    "three_electrode": ("Three-electrode full cell: 20 × 0.1C (1.5–3.3 V)",
                        "NaCrO2 | Sn full cell with a Na reference, cycled at 0.1C (paper, Fig. 5a); the "
                        "BioLogic file carries Ewe/V (NaCrO2 vs Na) and Ece/V (Sn vs Na).",
                        [(20, 0.1, 0.1, 1.5, 3.3)]),
}

CYCLERS = {
    "vmp3": dict(name="BioLogic VMP3", vendor=Cycler.Vendor.BIOLOGIC, model="VMP3", serial_number="0412",
                 location="battery lab, 30 °C climate chamber A", channels=[str(n) for n in range(1, 9)]),
    "neware": dict(name="Neware BTS4000", vendor=Cycler.Vendor.NEWARE, model="BTS4000-5V10mA",
                   serial_number="BTS19-2207", location="battery lab, 30 °C climate chamber B",
                   channels=[str(n) for n in range(1, 9)]),
}


class _Builder:
    """Writes the demo records as the demo user, through the services."""

    def __init__(self, user, project, today: dt.date):
        self.user, self.project, self.today = user, project, today

    def day(self, days_ago: int) -> dt.date:
        return self.today - dt.timedelta(days=days_ago)

    def moment(self, days_ago: int, hour: int = 10) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(self.day(days_ago), dt.time(hour, 0)))

    def record(self, service, /, **fields):
        """A project record made by ``service`` (e.g. samples.services.lot_receive)."""
        return service(user=self.user, project=self.project, **fields)


def _material(name: str) -> sm.Material:
    try:
        return sm.Material.objects.get(name=name)
    except sm.Material.DoesNotExist:
        raise DemoLabError(
            f"material {name!r} is missing: it was renamed or deleted (samples/seed.py lists the seeded ones)"
        ) from None


def load_demo_lab(*, username: str = "demo", password: str = "demo") -> dict:
    """Fill the database with the paper's lab; returns the created records by kind.

    Returns an empty dict, and changes nothing, when the demo project already exists. The
    whole load is one transaction: it is all there or none of it is.
    """
    with transaction.atomic():
        if Project.objects.filter(name=PROJECT_NAME).exists():
            return {}
        seed_materials(sm.Material)  # normally there already (migration samples 0002)
        user, user_created = _demo_user(username, password)
        try:
            with transaction.atomic():
                project = project_create(user=user, name=PROJECT_NAME, description=PROJECT_DESCRIPTION)
        except (IntegrityError, ValidationError):  # another load created it in the meantime
            return {}
        token, token_key = api_token_issue(user=user, label="demo")
        membership = ProjectMembership.objects.get(project=project, user=user)
        b = _Builder(user, project, timezone.localdate())
        records = {"user": user, "user_created": user_created, "token": token, "token_key": token_key, "project": project,
                   "membership": membership}
        records.update(_lots(b))
        records.update(_electrolyte(b, records["lots"]))
        records.update(_sheets(b, records["lots"]))
        records.update(_infiltration(b, records["solution"], records["electrodes"]))
        records.update(_alloy(b, records["lots"]))
        records.update(_equipment(b))
        records.update(_cells(b, records))
        return records


def _demo_user(username: str, password: str):
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is not None:  # an existing account is used as it is: no password or rights changed
        return user, False
    return User.objects.create_superuser(username, f"{username}@lab.example", password), True


# --- lots ------------------------------------------------------------------------------------


def _lots(b: _Builder) -> dict:
    lots = {}
    # NaCrO2 made in house: Cr2O3 + Na2CO3 -> 2 NaCrO2 + CO2, for 5 g of NaCrO2.
    nco_mmol = 5000.0 / _material("NaCrO2").molar_mass_g_mol
    for spec in LOTS:
        extra = {}
        if spec.key == "Na2B10H10":
            extra["treatments"] = [dict(
                performed_on=b.day(110), description="drying under vacuum (<1e-3 mbar) before use",
                temperature_c=180, duration_h=6, atmosphere="vacuum", pressure_mbar=1e-3)]
        if spec.key == "NaCrO2":
            extra["inputs"] = [
                dict(lot=lots["Cr2O3"], mass_mg=round(nco_mmol / 2 * _material("Cr2O3").molar_mass_g_mol, 1)),
                dict(lot=lots["Na2CO3"], mass_mg=round(nco_mmol / 2 * _material("Na2CO3").molar_mass_g_mol, 1)),
            ]
        lots[spec.key] = b.record(
            sample_services.lot_receive, material=_material(spec.material), supplier=spec.supplier,
            lot_number=spec.lot_number, received_on=b.day(spec.received_days_ago),
            purity_percent=spec.purity_percent, quantity_received_mg=spec.quantity_mg,
            low_stock_threshold_mg=spec.low_stock_mg, storage_place=spec.storage,
            storage_detail=spec.storage_detail, state=spec.state, hazards=spec.hazards, notes=spec.notes, **extra,
        )
    treatments = list(lots["Na2B10H10"].treatments.all())
    return {"lots": lots, "lot_treatments": treatments}


# --- electrolyte batch and infiltration solution -------------------------------------------


def _equimolar_inputs(lots, total_mg):
    masses = process.equimolar_precursor_masses_mg(total_mg)  # 1 g → 533.6 + 466.4 mg
    return [
        dict(lot=lots["Na2B12H12"], mass_mg=round(masses.na2b12h12_mg, 1)),
        dict(lot=lots["Na2B10H10"], mass_mg=round(masses.na2b10h10_mg, 1)),
    ]


# Impedance pellet: 0.50 mm cold-pressed in the 12 mm bore between Ti blocking electrodes.
PELLET_THICKNESS_MM = 0.50
CONDUCTIVITY_25C_S_CM = 1.0e-3
ACTIVATION_ENERGY_EV = 0.32  # a plausible value for the demo (σ·T Arrhenius), not from the paper
CONDUCTIVITY_TEMPERATURES_C = (25.0, 40.0, 60.0, 80.0)


def pellet_resistances_ohm() -> list[tuple[float, float]]:
    """(temperature °C, bulk resistance Ω) with σ(25 °C) = 1 mS/cm and σ·T Arrhenius at Ea."""
    t25 = 25.0 + process.ZERO_CELSIUS_K
    area = round(DISC_AREA_CM2, 4)
    out = []
    for t_c in CONDUCTIVITY_TEMPERATURES_C:
        t_k = t_c + process.ZERO_CELSIUS_K
        sigma = CONDUCTIVITY_25C_S_CM * (t25 / t_k) * math.exp(
            -ACTIVATION_ENERGY_EV / process.BOLTZMANN_EV_K * (1.0 / t_k - 1.0 / t25)
        )
        out.append((t_c, round(PELLET_THICKNESS_MM / 10.0 / (sigma * area), 2)))
    return out


PELLET_MASS_MG = 62.0  # 0.50 mm in the 12 mm bore


def _electrolyte(b: _Builder, lots) -> dict:
    isopropanol = lots["Isopropanol"]
    batch = b.record(
        sample_services.electrolyte_batch_record, name="Na4(B12H12)(B10H10) from isopropanol, 1 g",
        product=_material("Na4(B12H12)(B10H10)"), route=sm.ElectrolyteBatch.Route.SOLUTION,
        solvent_lot=isopropanol, solvent_volume_ml=20, prepared_on=b.day(100), yield_mg=962,
        pellet_mass_mg=PELLET_MASS_MG,
        xrd_phase=sm.ElectrolyteBatch.XrdPhase.FCC, xrd_main_reflection_two_theta_deg=15.0,
        ir_b_h_bands_present=True, ir_solvent_bands_present=False,
        notes="Equimolar Na2B12H12 + Na2B10H10 dissolved in 20 mL anhydrous isopropanol (paper, section "
              "4.1). Stored and handled in the argon glovebox. XRD (MiniFlex600, Be window): fcc, main "
              "reflection at 2θ ≈ 15°. IR (Bruker Alpha ATR, Ar): B-H stretch 2400–2500 cm⁻¹ and bends "
              "600–1200 cm⁻¹, no isopropanol bands. Used for the conductivity pellet and the "
              "separator layers of the solid-state cells.",
        inputs=_equimolar_inputs(lots, 1000.0),
        steps=[
            dict(order=1, description="rotary evaporation of the excess solvent", atmosphere="reduced pressure"),
            dict(order=2, description="drying on the Schlenk line", temperature_c=60, atmosphere="vacuum",
                 pressure_mbar=1e-3),
            dict(order=3, description="heat treatment to the fcc phase", temperature_c=180, duration_h=4,
                 atmosphere="vacuum"),
        ],
        conductivity_measurements=[
            dict(measured_on=b.day(98), temperature_c=t, pellet_thickness_mm=PELLET_THICKNESS_MM,
                 pellet_area_cm2=round(DISC_AREA_CM2, 4), resistance_ohm=resistance)
            for t, resistance in pellet_resistances_ohm()
        ],
    )
    solution = b.record(
        sample_services.infiltration_solution_prepare,
        name="Na2B12H12 + Na2B10H10 equimolar, 100 mg/mL in isopropanol",
        product=_material("Na4(B12H12)(B10H10)"), solvent_lot=isopropanol, solvent_volume_ml=10,
        prepared_on=b.day(89),
        notes="1 g of equimolar salts in 10 mL anhydrous isopropanol; homogeneous solution, kept closed "
              "in the glovebox between the infiltration runs.",
        inputs=_equimolar_inputs(lots, 1000.0),
    )
    return {"electrolyte_batch": batch, "electrolyte_inputs": list(batch.inputs.all()),
            "electrolyte_steps": list(batch.steps.all()),
            "conductivity_measurements": list(batch.conductivity_measurements.all()), "solution": solution,
            "solution_inputs": list(solution.inputs.all())}


# --- electrode sheets and electrodes ----------------------------------------------------------


def _foil_disc_mg() -> float:
    return AL_FOIL_AREAL_MASS_MG_CM2 * DISC_AREA_CM2


def _composite_density(spec: SheetSpec) -> float:
    densities = [_material(spec.active_lot).density_g_cm3, _material("PVDF").density_g_cm3,
                 _material("Super P").density_g_cm3]
    return process.composite_density_g_cm3(process.mass_fractions_from_percent(spec.fractions), densities)


def _sheets(b: _Builder, lots) -> dict:
    sheets, components, discs = {}, [], []
    nmp = lots["NMP"]
    for spec in SHEETS:
        coating_mg_cm2 = spec.active_loading_mg_cm2 / (spec.fractions[0] / 100.0)
        # thickness for ~80 % porosity, as read on the micrometer (1 µm)
        thickness_um = round(coating_mg_cm2 / 1000.0
                             / (_composite_density(spec) * (1 - CASTING_POROSITY_TARGET)) * 1e4)
        disc_coating_mg = coating_mg_cm2 * DISC_AREA_CM2
        sheet = b.record(
            sample_services.electrode_sheet_cast, name=spec.name, slurry_solvent_lot=nmp,
            slurry_solvent_volume_ml=spec.nmp_ml, current_collector=AL_FOIL,
            current_collector_areal_mass_mg_cm2=AL_FOIL_AREAL_MASS_MG_CM2, cast_on=b.day(spec.cast_days_ago),
            drying_temperature_c=120, drying_duration_h=12, drying_atmosphere="vacuum",
            coating_thickness_um=thickness_um,
            notes=f"{spec.notes} Slurry: {spec.slurry_solids_mg:g} mg solids in {spec.nmp_ml:g} mL NMP, "
                  f"doctor-bladed on {AL_FOIL} ({AL_FOIL_AREAL_MASS_MG_CM2} mg/cm²; a bare 12 mm disc weighs "
                  f"{_foil_disc_mg():.2f} mg), dried at 120 °C in vacuum. Loading: mean of four 12 mm discs.",
            components=[
                dict(lot=lots[lot_key], role=role, mass_fraction_percent=fraction,
                     mass_mg=spec.slurry_solids_mg * fraction / 100.0)
                for lot_key, role, fraction in zip(
                    (spec.active_lot, "PVDF", "Super P"),
                    (sm.SheetComponent.Role.ACTIVE, sm.SheetComponent.Role.BINDER,
                     sm.SheetComponent.Role.CONDUCTIVE_CARBON),
                    spec.fractions,
                )
            ],
            loading_discs=[dict(diameter_mm=DISC_DIAMETER_MM,
                                mass_mg=round(_foil_disc_mg() + disc_coating_mg + offset, 2))
                           for offset in spec.disc_offsets_mg],
        )
        sheets[spec.key] = sheet
        components.extend(sheet.components.all())
        discs.extend(sheet.loading_discs.all())
    electrodes = {}
    by_key = {spec.key: spec for spec in SHEETS}
    for key, sheet_key, deviation, purpose in ELECTRODES:
        spec = by_key[sheet_key]
        coating_mg = spec.active_loading_mg_cm2 / (spec.fractions[0] / 100.0) * DISC_AREA_CM2 * (1 + deviation)
        electrodes[key] = b.record(
            sample_services.electrode_punch, sheet=sheets[sheet_key], diameter_mm=DISC_DIAMETER_MM,
            mass_mg=round(_foil_disc_mg() + coating_mg, 2), punched_on=b.day(spec.cast_days_ago - 1),
            notes=f"For: {purpose}.",
        )
    return {"sheets": sheets, "sheet_components": components, "loading_discs": discs, "electrodes": electrodes}


# --- infiltration -----------------------------------------------------------------------------


def _pressed_thickness_um(electrode: sm.Electrode, coating_mg: float, electrolyte_mg: float,
                          porosity: float) -> float:
    sheet = electrode.sheet
    mixture = process.coating_electrolyte_density_g_cm3(
        coating_mg, electrolyte_mg, sheet.composite_density_g_cm3, _material("Na4(B12H12)(B10H10)").density_g_cm3
    )
    bulk_g_cm3 = mixture * (1 - porosity)
    # read from the SEM cross-section to 0.1 µm
    return round((coating_mg + electrolyte_mg) / 1000.0 / (electrode.area_cm2 * bulk_g_cm3) * 1e4, 1)


DIP_VOLUME_ML = 2.0  # solution poured into the dipping dish per run (a demo choice)


def _infiltration(b: _Builder, solution, electrodes) -> dict:
    runs, infiltrated, steps = [], {}, []
    for days_ago, what, plan in INFILTRATION_RUNS:
        rows = []
        for key, (uptake, porosity, pressing_loss_mg) in plan.items():
            electrode = electrodes[key]
            coating_mg = electrode.coating_mass_mg
            mass_after = round(electrode.mass_mg + uptake * coating_mg, 2)
            pressed_mass = round(mass_after - pressing_loss_mg, 2)
            electrolyte_mg = pressed_mass - electrode.mass_mg
            rows.append(dict(
                electrode=electrode, mass_before_mg=electrode.mass_mg, mass_after_mg=mass_after,
                pressing_pressure_mpa=350,
                pressed_thickness_um=_pressed_thickness_um(electrode, coating_mg, electrolyte_mg, porosity),
                pressed_mass_mg=pressed_mass,
            ))
        run = b.record(
            sample_services.infiltration_run_record, solution=solution, performed_on=b.day(days_ago),
            dip_time_min=10, solution_volume_ml=DIP_VOLUME_ML,
            notes=f"{what}. Dipped 10 min in the solution, dried overnight on a flat substrate in the "
                  "glovebox, 80 °C in argon, then 180 °C for 4 h in vacuum to crystallise the electrolyte. "
                  "Pressed at 350 MPa; pressed thickness from the SEM cross-section.",
            drying_steps=[
                dict(order=1, description="drying overnight on a flat substrate", duration_h=16,
                     atmosphere="argon (glovebox)"),
                dict(order=2, description="removal of excess solvent", temperature_c=80, atmosphere="argon"),
                dict(order=3, description="crystallisation of Na4(B12H12)(B10H10)", temperature_c=180,
                     duration_h=4, atmosphere="vacuum"),
            ],
            electrodes=rows,
        )
        runs.append(run)
        steps += list(run.drying_steps.all())
        for row in run.electrodes.select_related("electrode"):
            key = next(k for k, e in electrodes.items() if e.pk == row.electrode_id)
            infiltrated[key] = row
    return {"infiltration_runs": runs, "infiltration_steps": steps, "infiltrated": infiltrated}


# --- Na-Sn alloy ----------------------------------------------------------------------------------


def _alloy(b: _Builder, lots) -> dict:
    alloy = b.record(
        sample_services.alloy_batch_prepare, name="Na-Sn 3:1", prepared_on=b.day(87),
        notes="367.5 mg Na ground with 632.5 mg Sn (3:1 molar) with mortar and pestle in the argon glovebox "
              "until a dark grey powder was obtained. Counter electrode of the half cells (~0.1 V vs Na/Na⁺).",
        inputs=[dict(lot=lots["Na"], mass_mg=367.5), dict(lot=lots["Sn"], mass_mg=632.5)],
    )
    return {"alloy": alloy, "alloy_inputs": list(alloy.inputs.all())}


# --- cyclers and protocols --------------------------------------------------------------------------


def _equipment(b: _Builder) -> dict:
    cyclers, channels = {}, {}
    for key, spec in CYCLERS.items():
        spec = dict(spec)
        numbers = spec.pop("channels")
        cycler = Cycler.objects.filter(name=spec["name"]).first()
        if cycler is None:  # cyclers are lab equipment shared by all projects: reuse one that exists
            cycler = cell_services.cycler_register(user=b.user, **spec,
                                                   channels=[dict(number=number) for number in numbers])
        cyclers[key] = cycler
        for number in numbers:
            channel = Channel.objects.filter(cycler=cycler, number=number).first()
            channels[(key, number)] = channel or cell_services.channel_add(user=b.user, cycler=cycler, number=number)
    protocols, protocol_steps = {}, []
    for key, (name, description, blocks) in PROTOCOLS.items():
        protocol = b.record(cell_services.protocol_define, name=name, description=description, steps=[
            dict(order=order, cycle_count=cycles, charge_c_rate=charge, discharge_c_rate=discharge,
                 lower_cutoff_v=lower, upper_cutoff_v=upper, rest_min=10)
            for order, (cycles, charge, discharge, lower, upper) in enumerate(blocks, start=1)
        ])
        protocols[key] = protocol
        protocol_steps += list(protocol.steps.all())
    return {"cyclers": cyclers, "channels": channels, "protocols": protocols, "protocol_steps": protocol_steps}


def _protocol_hours(protocol: Protocol) -> float:
    """Nominal duration: each cycle takes 1/C_charge + 1/C_discharge hours plus the rests."""
    return sum(step.cycle_count * (1 / step.charge_c_rate + 1 / step.discharge_c_rate + 2 * step.rest_min / 60)
               for step in protocol.steps.all())


# --- cells and runs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellSpec:
    key: str
    name: str
    kind: str
    positive: str
    negative: str  # an electrode key, "alloy" or "Na"
    protocol_keys: tuple[str, ...]
    channel: tuple[str, str]
    assembled_days_ago: int
    stack_pressure_mpa: float | None = 70
    reference: bool = False
    running: bool = False
    notes: str = ""


K = Cell.Kind
CELLS = [
    CellSpec("nco95_70mpa", "NaCrO2 95:2:3 | NBH | Na-Sn, 70 MPa", K.CATHODE_HALF, "NCO-95-a", "alloy",
             ("nco_retention",), ("vmp3", "1"), 86,
             notes="Paper Fig. 3a/b: ~118 mAh/g first discharge at 0.1C (0.084 mA/cm²), CE 95.2 % then 99.0 %, "
                   "95.6 % retention after 100 cycles at 0.5C."),
    CellSpec("nco95_3mpa", "NaCrO2 95:2:3 | NBH | Na-Sn, 3 MPa (spring)", K.CATHODE_HALF, "NCO-95-b", "alloy",
             ("nco_retention",), ("vmp3", "2"), 86, stack_pressure_mpa=3,
             notes="Stack pressure ~3 MPa applied by a spring. Paper Fig. 3e/f: 85.9 % retention after 100 "
                   "cycles at 0.5C."),
    CellSpec("nco97_half", "NaCrO2 97:1:2 | NBH | Na-Sn (rate and retention)", K.CATHODE_HALF, "NCO-97-a", "alloy",
             ("nco_rate", "nco_retention"), ("vmp3", "3"), 86,
             notes="Paper Fig. 3b/d: rate test (5C ≈ 4.5 mA/cm², 67.4 % of the 0.1C capacity), then "
                   "long-term cycling at 0.5C."),
    CellSpec("sn_half", "Sn 90:5:5 | NBH | Na-Sn", K.ANODE_HALF, "SN-90-a", "alloy",
             ("sn_half",), ("neware", "1"), 82,
             notes="Sn is the working electrode (recorded as the positive part). Paper Fig. 4a/b: CE 84.3 % then "
                   "97.0 %, 634 mAh/g, 92.1 % retention after 50 cycles at 0.2C."),
    CellSpec("full", "NaCrO2 97:1:2 5.6 mg/cm² | NBH | Sn 90:5:5 1.2 mg/cm² (N/P 1.20)", K.FULL,
             "NCO-97-FC-a", "SN-90-b", ("full",), ("neware", "2"), 82,
             notes="Balanced on the half cells' measured capacities (Sn 634, NaCrO2 113 mAh/g): N/P 1.20 "
                   "(1.51 on 847/120 mAh/g). Paper Fig. 4c/d: CE 72.2 % then 95.8 %, 282 Wh/kg(NCO), "
                   "47.4 % retention after 50 cycles at 0.2C."),
    CellSpec("three_electrode", "NaCrO2 | NBH | Sn three-electrode cell, Na reference", K.THREE_ELECTRODE,
             "NCO-97-FC-b", "SN-90-c", ("three_electrode",), ("vmp3", "4"), 81, reference=True,
             notes="Full cell pressed at 350 MPa, then an additional 50 mg Na4(B12H12)(B10H10) layer and Na "
                   "metal as reference put on top of the NaCrO2 electrode and pressed at 70 MPa; a small "
                   "piece of the NaCrO2 electrode's Al foil was peeled off to connect the reference ionically. "
                   "Ewe = NaCrO2 vs Na, Ece = Sn vs Na (paper, Fig. 5)."),
    CellSpec("full_315", "NaCrO2 | NBH | Sn full cell, 3.15 V cut-off", K.FULL, "NCO-97-FC-c", "SN-90-d",
             ("full_315",), ("neware", "3"), 12, running=True,
             notes="Same sheets and infiltration run as the full cell, upper cut-off 3.15 V (paper, Fig. S6b): "
                   "the fade is not alleviated, pointing at the Sn anode."),
    CellSpec("nco_reference", "NaCrO2 97:1:2 5.6 mg/cm² | NBH | Na-Sn, reference curve", K.CATHODE_HALF,
             "NCO-97-FC-d", "alloy", ("nco_reference",), ("vmp3", "5"), 81,
             notes="Built from the full cells' NaCrO2 sheet and cycled at C/20: the NaCrO2 reference curve the "
                   "three-electrode cell's positive electrode is fitted with."),
    CellSpec("sn_reference", "Sn 90:5:5 1.2 mg/cm² | NBH | Na-Sn, reference curve", K.ANODE_HALF,
             "SN-90-e", "alloy", ("sn_reference",), ("vmp3", "6"), 81,
             notes="Built from the full cells' Sn sheet and cycled at C/20: the Sn reference curves (sodiation and "
                   "desodiation) the three-electrode cell's negative electrode is fitted with."),
    CellSpec("liquid_reference", "NaCrO2 95:2:3 | 1 M NaClO4 in PC | Na (2032 coin cell)", K.LIQUID_REFERENCE,
             "NCO-95-c", "Na", ("nco_retention",), ("neware", "4"), 86, stack_pressure_mpa=None,
             notes="Liquid-electrolyte reference: non-infiltrated NaCrO2 95:2:3 electrode, glass fibre separator "
                   "soaked with 1 M NaClO4 in propylene carbonate, Na metal counter electrode. Paper Fig. 3a: "
                   "first-cycle CE 93.7 %."),
]

NA_COUNTER_MASS_MG = 40.0  # Na foil disc of the coin cell
NA_REFERENCE_MASS_MG = 10.0  # small Na piece of the three-electrode cell


def _cells(b: _Builder, records) -> dict:
    electrodes, protocols, channels = records["electrodes"], records["protocols"], records["channels"]
    batch, alloy, na_lot = records["electrolyte_batch"], records["alloy"], records["lots"]["Na"]
    cells, parts, runs = {}, [], {}
    for spec in CELLS:
        first_steps = protocols[spec.protocol_keys[0]].steps.all()
        lower = min(step.lower_cutoff_v for step in first_steps)
        upper = max(step.upper_cutoff_v for step in first_steps)
        liquid = spec.kind == K.LIQUID_REFERENCE
        balanced = spec.kind in (K.FULL, K.THREE_ELECTRODE)
        cell_parts = [dict(role=CellPart.Role.POSITIVE, electrode=electrodes[spec.positive])]
        if spec.negative == "alloy":
            cell_parts.append(dict(role=CellPart.Role.NEGATIVE, alloy_batch=alloy, mass_mg=ALLOY_PART_MASS_MG,
                                   description="Na-Sn 3:1 powder"))
        elif spec.negative == "Na":
            cell_parts.append(dict(role=CellPart.Role.NEGATIVE, lot=na_lot, mass_mg=NA_COUNTER_MASS_MG,
                                   description="Na metal foil disc"))
        else:
            cell_parts.append(dict(role=CellPart.Role.NEGATIVE, electrode=electrodes[spec.negative]))
        if spec.reference:
            cell_parts.append(dict(role=CellPart.Role.REFERENCE, lot=na_lot, mass_mg=NA_REFERENCE_MASS_MG,
                                   description="Na metal reference"))
        cell = b.record(
            cell_services.cell_build, name=spec.name, kind=spec.kind, assembled_on=b.day(spec.assembled_days_ago),
            separator_batch=None if liquid else batch,
            separator_mass_mg=None if liquid else SEPARATOR_MASS_MG,
            separator_pressure_mpa=None if liquid else 70,
            liquid_electrolyte="1 M NaClO4 in PC" if liquid else "",
            assembly_pressure_mpa=None if liquid else 350,
            stack_pressure_mpa=spec.stack_pressure_mpa,
            hardware=Cell.Hardware.COIN_2032 if liquid else Cell.Hardware.PEEK_MOLD,
            temperature_c=30, lower_cutoff_v=lower, upper_cutoff_v=upper,
            np_basis=Cell.NpBasis.MEASURED if balanced else Cell.NpBasis.REFERENCE,
            negative_capacity_for_np_mah_g=SN_MEASURED_MAH_G if balanced else None,
            positive_capacity_for_np_mah_g=NCO_MEASURED_MAH_G if balanced else None,
            notes=spec.notes, parts=cell_parts,
        )
        cells[spec.key] = cell
        parts += list(cell.parts.all())
        start = b.moment(spec.assembled_days_ago, hour=17)
        for index, protocol_key in enumerate(spec.protocol_keys):
            protocol = protocols[protocol_key]
            end = start + dt.timedelta(hours=_protocol_hours(protocol))
            running = spec.running and index == len(spec.protocol_keys) - 1
            runs[spec.key if index == 0 else f"{spec.key}:{protocol_key}"] = b.record(
                cell_services.cycling_run_start, cell=cell, channel=channels[spec.channel], protocol=protocol,
                state=CyclingRun.State.RUNNING if running else CyclingRun.State.FINISHED,
                started_at=start, finished_at=None if running else end,
            )
            start = end + dt.timedelta(hours=1)
    return {"cells": cells, "cell_parts": parts, "runs": runs}
