"""Cycling data for the demo lab: the paper's cells cycled synthetically, sent through the same
upload and ingestion as a cycler's file, so the demo shows summaries and metrics."""
import dataclasses
import hashlib

from django.core.files.base import ContentFile

from analysis.core import synthetic
from analysis.services import cell_parameters, raw_file_receive

# demo run key -> (synthetic preset, the synthetic cell it was designed for, extra arguments)
DEMO_RUNS = {
    "nco95_70mpa": (synthetic.paper_nacro2_long_term, synthetic.nacro2_half_cell(7.0, "95:2:3"), {"stack_pressure_mpa": 70.0}),
    "nco95_3mpa": (synthetic.paper_nacro2_long_term, synthetic.nacro2_half_cell(7.0, "95:2:3"), {"stack_pressure_mpa": 3.0}),
    "nco97_half": (synthetic.paper_nacro2_rate_test, synthetic.nacro2_half_cell(7.7, "97:1:2"), {"composition": "97:1:2"}),
    "sn_half": (synthetic.paper_sn_half_cell, synthetic.sn_half_cell(), {}),
    "full": (synthetic.paper_full_cell, synthetic.full_cell(), {}),
}


def spec_for(cell, base: synthetic.CellSpec) -> synthetic.CellSpec:
    """The synthetic cell with the masses and area the records give for ``cell``."""
    params = cell_parameters(cell)
    return dataclasses.replace(
        base, active_mass_mg=params.active_mass_mg, electrode_area_cm2=params.electrode_area_cm2,
        positive_composite_mass_mg=params.positive_composite_mass_mg,
        negative_composite_mass_mg=params.negative_composite_mass_mg or base.negative_composite_mass_mg,
    )


def as_upload(name: str, content: bytes) -> ContentFile:
    upload = ContentFile(content, name=name)
    upload.sha256 = hashlib.sha256(content).hexdigest()
    return upload


def load_demo_cycling_data(records: dict) -> list:
    """Upload a synthetic cycler file for each demo run that has a preset, then the
    three-electrode cell's after its reference half cells' (so its diagnosis is made once);
    returns the datasets."""
    from analysis.demo.three_electrode import load_demo_three_electrode_data

    datasets = []
    for run_key, (preset, base, arguments) in DEMO_RUNS.items():
        run = records["runs"][run_key]
        data = preset(cell=spec_for(run.cell, base), **arguments)
        content = synthetic.to_bdf_csv(data.table)
        received = raw_file_receive(run=run, uploaded=as_upload(f"{run.human_id}.bdf.csv", content),
                                    user=records["user"])
        datasets.append(received.dataset)
    return datasets + load_demo_three_electrode_data(records, upload=as_upload)
