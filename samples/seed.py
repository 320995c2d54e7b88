"""The paper's materials with the constants the calculations need (DOMAIN.md, ANALYSIS_METHODS.md).

Seeded by a migration into every database, and again by the demo loader (a test that empties
the tables must not leave the lab without them).
"""

MATERIALS = [
    # name, formula, kind, density g/cm3, molar mass g/mol, Na per formula unit, reference mAh/g, notes
    ("Na4(B12H12)(B10H10)", "Na4(B12H12)(B10H10)", "solid_electrolyte", 1.17, 351.98, None, None,
     "closo-borate solid electrolyte; fcc phase ~1 mS/cm at 25 °C"),
    ("Na2B12H12", "Na2B12H12", "precursor", None, 187.81, None, None, "electrolyte precursor"),
    ("Na2B10H10", "Na2B10H10", "precursor", None, 164.17, None, None,
     "electrolyte precursor; dried under vacuum <1e-3 mbar at 180 °C for 6 h before use"),
    ("NaCrO2", "NaCrO2", "cathode_active", 4.4, 106.98, 0.5, 120.0,
     "NaCrO2 <-> Na0.5CrO2: 125 mAh/g theoretical, 120 mAh/g practical reference; density from XRD"),
    ("Sn", "Sn", "anode_active", 7.29, 118.71, 3.75, 847.0, "Sn -> Na15Sn4: 847 mAh/g; 10 µm powder"),
    ("PVDF", "(C2H2F2)n", "binder", 1.78, None, None, None, "PVDF KF1100"),
    ("Super P", "C", "conductive_carbon", 1.9, 12.011, None, None, "skeletal density"),
    ("Isopropanol", "C3H8O", "solvent", 0.786, 60.10, None, None, "anhydrous; gives the fcc electrolyte phase"),
    ("Methanol", "CH4O", "solvent", 0.792, 32.04, None, None, "the two salts crystallise apart from methanol"),
    ("NMP", "C5H9NO", "solvent", 1.028, 99.13, None, None, "N-methyl-2-pyrrolidone, slurry solvent"),
    ("Na", "Na", "metal", 0.968, 22.99, None, None, "sodium metal: Na-Sn alloy and reference electrodes"),
    ("Al foil", "Al", "current_collector", 2.70, 26.98, None, None, "cathode and anode current collector"),
    ("Cr2O3", "Cr2O3", "precursor", 5.22, 151.99, None, None, "NaCrO2 synthesis"),
    ("Na2CO3", "Na2CO3", "precursor", 2.54, 105.99, None, None, "NaCrO2 synthesis"),
    ("NaClO4", "NaClO4", "precursor", 2.50, 122.44, None, None, "liquid electrolyte salt"),
    ("Propylene carbonate", "C4H6O3", "solvent", 1.205, 102.09, None, None, "liquid electrolyte solvent"),
    ("Li6PS5Cl", "Li6PS5Cl", "solid_electrolyte", 1.86, None, None, None, "for comparison only"),
    ("LLZO", "Li7La3Zr2O12", "solid_electrolyte", 5.01, None, None, None, "for comparison only"),
]



def seed_materials(material_model) -> int:
    """Create the materials that are missing (existing ones are left as the lab manager set them)."""
    created = 0
    for name, formula, kind, density, molar, electrons, reference, notes in MATERIALS:
        _, was_created = material_model.objects.get_or_create(
            name=name,
            defaults=dict(
                formula=formula, kind=kind, density_g_cm3=density, molar_mass_g_mol=molar,
                electrons_per_formula_unit=electrons, reference_specific_capacity_mah_g=reference, notes=notes,
            ),
        )
        created += was_created
    return created
