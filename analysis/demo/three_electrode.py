"""Three-electrode data for the demo lab, telling the paper's story (Fig. 5): the
three-electrode cell loses sodium at the Sn on every charge while no overpotential builds up,
and the two half cells built from the full cells' sheets are cycled slowly for the electrodes'
reference curves. Synthetic (analysis.core.synthetic_three_electrode), written as EC-Lab text
exports with Ewe, Ece and Ewe-Ece, and sent through the same upload and ingestion as a
cycler's file."""
from analysis.core import synthetic_three_electrode as s3
from analysis.services import cell_parameters, raw_file_receive

#: sodium lost to side reactions at the Sn: 1 % of every charge; no resistance growth
DEMO_DEGRADATION = s3.Degradation(sodium_loss_fraction=0.01)
POTENTIAL_NOISE_V = 0.001  # 1 mV on each recorded potential
REFERENCE_C_RATE = 0.05


def demo_cell(cell) -> s3.ThreeElectrodeCell:
    """The synthetic three-electrode cell with the masses, N/P and window the records give."""
    params = cell_parameters(cell)
    return s3.ThreeElectrodeCell(
        name=cell.name, positive_active_mass_mg=params.active_mass_mg,
        positive_specific_capacity_mah_g=params.reference_capacity_mah_g, np_ratio=round(cell.np_ratio, 2),
        electrode_area_cm2=params.electrode_area_cm2, lower_cutoff_v=cell.lower_cutoff_v,
        upper_cutoff_v=cell.upper_cutoff_v)


def three_electrode_file(run) -> bytes:
    protocol = run.protocol
    return s3.simulate(demo_cell(run.cell), DEMO_DEGRADATION, n_cycles=protocol.cycle_count,
                       c_rate=protocol.steps.first().charge_c_rate, potential_noise_v=POTENTIAL_NOISE_V,
                       seed=5).to_mpt()


def reference_file(run, electrode: str) -> bytes:
    """Slow cycles of a half cell over its electrode's sodium range, within the cell's window."""
    cell = run.cell
    params = cell_parameters(cell)
    capacity = params.active_mass_mg / 1000.0 * params.reference_capacity_mah_g
    return s3.half_cell_reference(electrode, capacity_mah=capacity, c_rate=REFERENCE_C_RATE,
                                  n_cycles=run.protocol.cycle_count, lower_cutoff_v=cell.lower_cutoff_v,
                                  upper_cutoff_v=cell.upper_cutoff_v).to_mpt()


def load_demo_three_electrode_data(records: dict, *, upload) -> list:
    """The reference half cells' files, then the three-electrode cell's; returns the datasets."""
    runs = records["runs"]
    files = [(runs["nco_reference"], reference_file(runs["nco_reference"], "positive")),
             (runs["sn_reference"], reference_file(runs["sn_reference"], "negative")),
             (runs["three_electrode"], three_electrode_file(runs["three_electrode"]))]
    return [raw_file_receive(run=run, uploaded=upload(f"{run.human_id}.mpt", content), user=records["user"]).dataset
            for run, content in files]
