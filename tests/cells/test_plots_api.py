"""The plots' data (/api/v1/datasets/<id>/plots/<plot>/): the numbers at known points of a small
synthetic file, the bound on the points of every series, and 400 naming a bad parameter."""
import numpy as np
import pytest

from analysis.core import synthetic
from tests import factories

pytestmark = pytest.mark.django_db

# cycling_file(12): a NaCrO2 half cell at 0.1C, cycle 1 118.0 mAh/g out at 95.2 %, then
# 117.6 mAh/g at 99.0 %, 20 points a step, its charge ending at the 3.35 V cut-off. Per gram of
# the synthetic cell's active mass; the factory's cell weighs a little less (q).
CYCLES = 12


@pytest.fixture
def q(dataset):
    """The capacities (mAh/g) of the file per gram of the cell's active mass."""
    from types import SimpleNamespace

    from analysis.services import cell_parameters

    scale = synthetic.nacro2_half_cell().active_mass_mg / cell_parameters(dataset.run.cell).active_mass_mg
    first_out, later_out = 118.0 * scale, 117.6 * scale
    return SimpleNamespace(first_out=first_out, later_out=later_out, first_charge=first_out / 0.952,
                           later_charge=later_out / 0.990)


@pytest.fixture
def dataset(project, people):
    run = factories.CyclingRunFactory(project=project, user=people["writer"])
    return factories.DatasetFactory(run=run, user=people["writer"], content=factories.cycling_file(CYCLES),
                                    ingested=True)


@pytest.fixture
def plot(api, people, dataset):
    client = api(people["reader"])

    def get(name, expect=200, **params):
        response = client.get(f"/api/v1/datasets/{dataset.human_id}/plots/{name}/", params)
        assert response.status_code == expect, response.content[:500]
        return response.json()
    return get


def by_label(body):
    return {s["label"]: s for s in body["series"]}


def test_voltage_against_capacity_of_the_first_10th_and_last_cycle(plot, dataset, q):
    assert dataset.state == "done", dataset.message
    body = plot("voltage-capacity")
    assert (body["cycles"], body["cycle_range"]) == ([1, 10, 12], [1, 12])
    assert (body["x_label"], body["y_label"]) == ("capacity (mAh/g)", "voltage (V)")
    series = by_label(body)
    assert list(series) == [f"cycle {c} {d}" for c in (1, 10, 12) for d in ("charge", "discharge")]
    first = series["cycle 1 charge"]
    assert first["points"] == first["rows"] <= 1000  # a small file is not down-sampled
    # each half cycle starts at 0 and ends at its capacity, at the cut-off voltage
    assert first["x"][0] == 0.0 and first["x"][-1] == pytest.approx(q.first_charge, abs=1e-3)
    assert first["y"][-1] == pytest.approx(synthetic.nacro2_half_cell().upper_cutoff_v, abs=1e-6)
    assert series["cycle 1 discharge"]["x"][-1] == pytest.approx(q.first_out, abs=1e-3)
    assert series["cycle 10 charge"]["x"][-1] == pytest.approx(q.later_charge, abs=1e-3)
    assert series["cycle 12 discharge"]["x"][-1] == pytest.approx(q.later_out, abs=1e-3)
    assert series["cycle 12 discharge"]["y"][-1] == pytest.approx(synthetic.nacro2_half_cell().lower_cutoff_v,
                                                                  abs=1e-6)
    assert all(np.diff(s["x"]).min() >= 0 for s in body["series"])  # capacity only grows: x in order
    # chosen cycles
    chosen = plot("voltage-capacity", cycles="2, 5")
    assert chosen["cycles"] == [2, 5] and len(chosen["series"]) == 4


def test_every_series_holds_at_most_the_points_asked_for(plot, dataset):
    for name in ("voltage", "voltage-capacity", "capacity", "rate", "dqdv"):
        body = plot(name, points=10)
        assert body["points"] == 10
        for each in body["series"]:
            assert each["points"] == len(each["x"]) == len(each["y"]) <= 10, (name, each["label"])
    voltage = plot("voltage", points=50)["series"][0]
    assert voltage["rows"] == dataset.row_count > 50 and voltage["points"] <= 50
    # the first and last row are kept: the test starts at 0 h
    whole = plot("voltage")["series"][0]
    assert voltage["x"][0] == whole["x"][0] == 0.0 and voltage["x"][-1] == whole["x"][-1]
    assert voltage["y"][-1] == whole["y"][-1]


def test_capacity_and_efficiency_against_cycle(plot, q):
    body = plot("capacity")
    assert (body["y_label"], body["y2_label"]) == ("specific capacity (mAh/g)", "coulombic efficiency (%)")
    series = by_label(body)
    assert series["discharge"]["x"] == list(range(1, CYCLES + 1))
    assert series["discharge"]["y"][:2] == pytest.approx([q.first_out, q.later_out], abs=1e-3)
    assert series["charge"]["y"][0] == pytest.approx(q.first_charge, abs=1e-3)
    assert series["coulombic efficiency"]["axis"] == "y2"
    assert series["coulombic efficiency"]["y"][:2] == pytest.approx([95.2, 99.0], abs=1e-3)


def test_rate_capability_groups_the_cycles_by_their_c_rate(plot, q):
    body = plot("rate")
    assert body["y_label"] == "discharge capacity (mAh/g)"
    assert [s["label"] for s in body["series"]] == ["0.1C"]
    assert body["series"][0]["x"] == list(range(1, CYCLES + 1))
    assert body["steps"] == [{"c_rate": 0.1, "first_cycle": 1, "last_cycle": CYCLES, "n_cycles": CYCLES}]
    [rate] = body["rate_capability"]
    assert rate["c_rate"] == 0.1 and rate["n_cycles"] == CYCLES
    assert rate["mean_specific_capacity_mah_g"] == pytest.approx((q.first_out + 11 * q.later_out) / 12, abs=1e-3)
    assert rate["relative_to_reference"] == pytest.approx(1.0)


def test_a_rate_test_has_one_series_per_c_rate(api, people, project):
    table = synthetic.paper_nacro2_rate_test(sample_interval_s=600.0).table
    run = factories.CyclingRunFactory(project=project, user=people["writer"])
    dataset = factories.DatasetFactory(run=run, user=people["writer"], name="rate.bdf.csv",
                                       content=synthetic.to_bdf_csv(table), ingested=True)
    body = api(people["reader"]).get(f"/api/v1/datasets/{dataset.human_id}/plots/rate/").json()
    rates = [row["c_rate"] for row in body["rate_capability"]]
    assert [s["label"] for s in body["series"]] == [f"{r:g}C" for r in rates]
    assert rates[0] == 0.1 and rates[-1] == 5.0
    # 95:2:3 keeps 57.5 % of its 0.1C capacity at 5C (the paper's Fig. 3c)
    assert body["rate_capability"][-1]["relative_to_reference"] == pytest.approx(0.575, abs=0.01)
    # 0.1C at the start and at the end: one series, two steps
    tenth = [s for s in body["series"] if s["label"] == "0.1C"][0]
    assert len([step for step in body["steps"] if step["c_rate"] == 0.1]) == 2
    assert tenth["x"][:3] == [1, 2, 3]


def test_dq_dv_holds_the_capacity_of_each_half_cycle(plot, q):
    body = plot("dqdv", cycles="1")
    assert (body["x_label"], body["y_label"]) == ("voltage (V)", "dQ/dV (mAh/(g·V))")
    series = by_label(body)
    charge, discharge = series["cycle 1 charge"], series["cycle 1 discharge"]
    # bins of 5 mV: the curve's integral is the half cycle's capacity; the discharge's negative
    assert np.allclose(np.diff(charge["x"]), 0.005)
    assert sum(charge["y"]) * 0.005 == pytest.approx(q.first_charge, rel=1e-4)
    assert sum(discharge["y"]) * 0.005 == pytest.approx(-q.first_out, rel=1e-4)
    assert min(charge["y"]) >= 0 >= max(discharge["y"])


def test_bad_parameters_are_refused_naming_them(plot, dataset):
    label = dataset.human_id
    assert plot("voltage", 400, points=5) == {"points": ["Ensure this value is greater than or equal to 10."]}
    assert plot("capacity", 400, points="many") == {"points": ["A valid integer is required."]}
    assert plot("rate", 400, points=6000) == {"points": ["Ensure this value is less than or equal to 5000."]}
    assert plot("voltage", 400, pionts=50) == {"pionts": ["Not a parameter of this plot; it takes points."]}
    assert plot("dqdv", 400, cycles="1,x") == {"cycles": ["'x' is not a cycle number; give cycles as 1,10,120."]}
    assert plot("voltage-capacity", 400, cycles="2,99") == {
        "cycles": [f"{label} has no cycle 99; its cycles are 1 to 12."]}
    assert plot("voltage-capacity", 400, cycles=",".join(map(str, range(1, 14)))) == {
        "cycles": ["At most 12 cycles in one plot, not 13."]}
    assert plot("capacity", 400, cycles="1") == {
        "cycles": ["Not a parameter of this plot; it takes points."]}


def test_another_projects_dataset_is_not_found(api, people, dataset):
    outsider = api(people["outsider"])
    for name in ("voltage", "voltage-capacity", "capacity", "rate", "dqdv"):
        assert outsider.get(f"/api/v1/datasets/{dataset.human_id}/plots/{name}/").status_code == 404


def test_a_three_electrode_cells_voltage_comes_with_each_electrodes_potential(api, people, project):
    dataset = factories.three_electrode_dataset(project=project, user=people["writer"])
    body = api(people["reader"]).get(f"/api/v1/datasets/{dataset.human_id}/plots/voltage/").json()
    assert body["y_label"] == "voltage and potentials vs Na (V)"
    series = by_label(body)
    assert list(series) == ["cell voltage", "positive electrode", "negative electrode"]
    cell, positive, negative = (np.array(series[name]["y"]) for name in series)
    assert series["cell voltage"]["x"] == series["positive electrode"]["x"]  # not down-sampled here
    assert np.allclose(cell, positive - negative, atol=0.01)  # the consistency the analysis checks
    assert positive.mean() > 2.5 and negative.mean() < 0.7  # NaCrO2 and Sn against Na


def test_the_schema_declares_the_plots(api, people):
    schema = api(people["reader"]).get("/api/v1/schema/", {"format": "json"}).json()
    for name in ("voltage", "voltage-capacity", "capacity", "rate", "dqdv"):
        get = schema["paths"][f"/api/v1/datasets/{{human_id}}/plots/{name}/"]["get"]
        assert get["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Plot"}
        assert "points" in {p["name"] for p in get["parameters"]}
    assert {"cycles", "points"} <= {p["name"] for p in
                                    schema["paths"]["/api/v1/datasets/{human_id}/plots/dqdv/"]["get"]["parameters"]}
    assert "series" in schema["components"]["schemas"]["Plot"]["properties"]


@pytest.mark.parametrize("params", [
    {"points": "1e308"}, {"points": "NaN"}, {"points": "-1"}, {"cycles": "-1"},
    {"cycles": "1-5"}, {"cycles": "\x00🔋"}, {"cycles": "1," * 300}, {"cycles": "99999999999999999999"},
])
def test_nasty_parameters_are_a_400_never_a_500(api, people, dataset, params):
    client = api(people["reader"])
    for name in ("voltage-capacity", "dqdv") if "cycles" in params else ("voltage", "capacity", "rate", "dqdv"):
        response = client.get(f"/api/v1/datasets/{dataset.human_id}/plots/{name}/", params)
        assert response.status_code == 400, (name, params, response.content[:300])
        assert list(response.json()) == list(params)


def test_a_dataset_without_data_says_so(api, people, project):
    run = factories.CyclingRunFactory(project=project, user=people["writer"])
    failed = factories.DatasetFactory(run=run, user=people["writer"], name="broken.csv", content=b"not a file\n",
                                      ingested=True)
    client = api(people["reader"])
    for name in ("voltage", "voltage-capacity", "dqdv"):
        response = client.get(f"/api/v1/datasets/{failed.human_id}/plots/{name}/")
        assert response.status_code == 404, name
        assert failed.human_id in response.json()["detail"]
    for name in ("capacity", "rate"):  # no cycles: nothing to draw
        assert client.get(f"/api/v1/datasets/{failed.human_id}/plots/{name}/").json()["series"] == []
