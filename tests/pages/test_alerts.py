"""Alerts of running tests: raised after an ingestion by the project's rules (synthetic NaCrO2
cells whose efficiency drops or that short), for a running test gone silent (the periodic task,
on a clock of the test's choosing), shown on the dashboard and the cell's page, listed by the
API, acknowledged by a person (page, API, admin) with who and when; the rules set per project."""
import datetime as dt
import re

import pytest
from django.utils import timezone
from django.utils.html import escape

from analysis.alerts import services as alert_services
from analysis.alerts.models import Alert, AlertRules
from analysis.core import synthetic
from analysis.demo.cycling import spec_for
from analysis.models import CycleSummary
from cells import services as cell_services
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def watched(lab, people):
    """watched(make, name=...) -> the dataset of a synthetic file for a new running NaCrO2 half cell."""
    def upload(make=synthetic.nacro2_efficiency_drop, name="cell.bdf.csv", run=None, **arguments):
        run = run or lab.run(lab.half_cell())
        data = make(cell=spec_for(run.cell, synthetic.nacro2_half_cell()), **arguments)
        return lab.upload(run, name, synthetic.to_bdf_csv(data.table))
    return upload


def test_a_running_cell_whose_efficiency_drops_raises_one_alert_at_that_cycle(watched):
    dataset = watched(cycles_at_05c=16, drop_from_cycle=15, efficiency_after=0.965)
    assert dataset.state == "done", dataset.message
    alert = Alert.objects.get()
    assert (alert.rule, alert.cycle_number, alert.dataset, alert.run) == ("low_efficiency", 15, dataset, dataset.run)
    assert alert.value == pytest.approx(0.965, abs=1e-6) and alert.threshold == 0.98
    assert alert.message == "Coulombic efficiency fell to 96.5 % in cycle 15, below 98.0 %."
    assert alert.details["params"] == {"efficiency_floor": 0.98, "formation_cycles": 2}
    assert alert.is_open and alert.acknowledged_by is None

    # The cycler sends the same file grown by four cycles, still at 96.5 %: the same episode.
    grown = watched(run=dataset.run, cycles_at_05c=20, drop_from_cycle=15, efficiency_after=0.965)
    assert grown.pk == dataset.pk and grown.cycles.count() > 18
    assert Alert.objects.count() == 1
    assert Alert.objects.get().later_cycles == []


def test_while_an_alert_is_open_later_episodes_join_it_and_after_acknowledging_they_raise_anew(watched, people):
    dataset = watched(cycles_at_05c=20, drop_from_cycle=15, efficiency_after=0.965)  # cycles 1-22, low from 15
    first = Alert.objects.get()
    # Say the cell recovered from cycle 16 on, except in cycle 19.
    rows = CycleSummary.objects.filter(dataset=dataset)
    rows.filter(cycle_number__gte=16).update(coulombic_efficiency=0.998)
    rows.filter(cycle_number=19).update(coulombic_efficiency=0.95)
    assert alert_services.watch_running_test(dataset) == []
    first.refresh_from_db()
    assert Alert.objects.count() == 1 and first.later_cycles == [19]
    assert first.full_message == "Coulombic efficiency fell to 96.5 % in cycle 15, below 98.0 %. Again from cycle 19."

    alert_services.alert_acknowledge(user=people["writer"], alert=first, note="side reaction; watching it")
    assert alert_services.watch_running_test(dataset) == []  # cycles 15 and 19 were acknowledged
    rows.filter(cycle_number=21).update(coulombic_efficiency=0.93)
    raised = alert_services.watch_running_test(dataset)
    assert [(a.rule, a.cycle_number, a.later_cycles) for a in raised] == [("low_efficiency", 21, [])]
    assert Alert.objects.filter(acknowledged_at__isnull=True).get() == raised[0]


def test_a_finished_test_is_not_watched(lab, watched):
    run = lab.run(lab.half_cell(), state="finished")
    watched(run=run, cycles_at_05c=16, drop_from_cycle=15)
    assert Alert.objects.count() == 0


def test_the_projects_rules_decide(watched, project, people):
    alert_services.alert_rules_set(user=people["writer"], project=project, efficiency_floor_percent=96.0)
    watched(cycles_at_05c=16, drop_from_cycle=15, efficiency_after=0.965)
    assert Alert.objects.count() == 0
    alert_services.alert_rules_set(user=people["writer"], project=project, efficiency_floor_percent=99.0,
                                   efficiency_watched=False)
    watched(cycles_at_05c=16, drop_from_cycle=15, efficiency_after=0.965, name="other.bdf.csv")
    assert Alert.objects.count() == 0
    rules = AlertRules.objects.get(project=project)
    assert rules.history.count() == 2 and rules.history.first().history_user == people["writer"]
    assert rules.modified_by == people["writer"]


def test_a_cell_that_shorts_raises_a_voltage_collapse_alert_in_its_running_cycle(watched):
    dataset = watched(make=synthetic.nacro2_short, cycles_at_05c=6, shorted_v=0.05)
    alert = Alert.objects.get()
    assert (alert.rule, alert.cycle_number, alert.unit) == ("voltage_collapse", 9, "V")
    assert alert.value == pytest.approx(0.05)
    assert "(still running)" in alert.message and "looks like a short" in alert.message
    assert dataset.cycles.get(cycle_number=9).complete is False


def test_a_running_test_that_sends_nothing_raises_one_alert_per_silence(lab, project, people):
    cell = lab.half_cell()
    started = timezone.now() - dt.timedelta(hours=10)
    run = lab.run(cell, started_at=started)
    quiet = lab.run(lab.half_cell(), started_at=timezone.now() - dt.timedelta(hours=1))
    lab.run(lab.half_cell(), started_at=started, state="finished")
    raised = alert_services.watch_silent_runs()
    assert [(a.run, a.rule, a.last_data_at) for a in raised] == [(run, "no_new_data", started)]
    alert = raised[0]
    assert alert.value == pytest.approx(10.0, abs=0.01) and alert.threshold == 6.0 and alert.unit == "h"
    assert alert.message.startswith(f"{run.human_id} ({cell.human_id} on {run.channel}): No new data for 10.0 h, "
                                    "more than the 6 h allowed. It started ")
    assert alert_services.watch_silent_runs() == []  # the same silence: one alert
    alert_services.alert_acknowledge(user=people["writer"], alert=alert)
    assert alert_services.watch_silent_runs(now=timezone.now() + dt.timedelta(hours=4)) == []

    # Data comes, then nothing again for 7 h: a new silence (and the other run's first).
    lab.good_dataset(run)
    later = alert_services.watch_silent_runs(now=timezone.now() + dt.timedelta(hours=7))
    assert sorted((a.run.pk, a.rule) for a in later) == [(run.pk, "no_new_data"), (quiet.pk, "no_new_data")]
    assert "Its last file arrived" in next(a for a in later if a.run == run).message


def test_a_project_that_allows_a_day_of_silence(lab, project, people):
    alert_services.alert_rules_set(user=people["writer"], project=project, silence_h=24)
    lab.run(lab.half_cell(), started_at=timezone.now() - dt.timedelta(hours=20))
    assert alert_services.watch_silent_runs() == []
    assert len(alert_services.watch_silent_runs(now=timezone.now() + dt.timedelta(hours=5))) == 1
    alert_services.alert_rules_set(user=people["writer"], project=project, silence_watched=False)
    lab.run(lab.half_cell(), started_at=timezone.now() - dt.timedelta(days=30))
    assert alert_services.watch_silent_runs() == []


def test_beat_runs_the_silence_watch():
    from django.conf import settings

    from eln.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["watch-silent-runs"]
    assert entry["task"] in app.tasks and entry["schedule"] == settings.ELN_WATCH_EVERY_SECONDS


# -- on the pages ---------------------------------------------------------------------------------

def test_alerts_show_on_the_dashboard_and_the_cells_page_and_a_writer_acknowledges_them(watched, logged_in, people):
    dataset = watched(cycles_at_05c=16, drop_from_cycle=15)
    cell, alert = dataset.run.cell, Alert.objects.get()
    client = logged_in(people["writer"])
    dashboard = client.get("/").content.decode()
    panel = dashboard.split('<h2 id="panel-1">Alerts</h2>')[1].split("</section>")[0]
    assert cell.human_id in panel and escape(alert.message) in panel  # acknowledged on the cell's page

    page = client.get(f"/cells/{cell.human_id}/").content.decode()
    section = page.split('id="alerts-heading"')[1].split("</section>")[0]
    assert "1 open" in section and escape(alert.message) in section
    response = client.post(f"/alerts/{alert.pk}/acknowledge/", {"note": "seen; a side reaction",
                                                                "next": f"/cells/{cell.human_id}/"})
    assert response.status_code == 302 and response["Location"] == f"/cells/{cell.human_id}/"
    alert.refresh_from_db()
    assert alert.acknowledged_by == people["writer"] and alert.acknowledgement_note == "seen; a side reaction"
    assert abs((timezone.now() - alert.acknowledged_at).total_seconds()) < 60
    assert alert.history.first().history_user == people["writer"]
    page = client.get(f"/cells/{cell.human_id}/").content.decode()
    section = page.split('id="alerts-heading"')[1].split("</section>")[0]
    assert "0 open" in section and "acknowledged" in section and "by wei on" in section
    assert "seen; a side reaction" in section
    assert "No open alert." in client.get("/").content.decode()

    again = client.post(f"/alerts/{alert.pk}/acknowledge/", {"next": "/alerts/"}, follow=True).content.decode()
    assert "This alert was already acknowledged by wei on" in again


def test_a_reader_sees_alerts_but_cannot_acknowledge_them(watched, logged_in, people):
    dataset = watched(cycles_at_05c=16, drop_from_cycle=15)
    alert = Alert.objects.get()
    client = logged_in(people["reader"])
    page = client.get(f"/cells/{dataset.run.cell.human_id}/").content.decode()
    assert escape(alert.message) in page and "Acknowledge" not in page
    assert "Acknowledge" not in client.get("/alerts/").content.decode()
    assert client.post(f"/alerts/{alert.pk}/acknowledge/").status_code == 403
    alert.refresh_from_db()
    assert alert.is_open
    assert logged_in(people["outsider"]).post(f"/alerts/{alert.pk}/acknowledge/").status_code == 404


def test_the_alert_list_filters_by_state_and_rule(watched, logged_in, people):
    watched(cycles_at_05c=16, drop_from_cycle=15)
    watched(make=synthetic.nacro2_short, name="short.bdf.csv")
    short = Alert.objects.get(rule="voltage_collapse")
    alert_services.alert_acknowledge(user=people["writer"], alert=short)
    client = logged_in(people["reader"])

    def rules_listed(query):
        return re.findall(r'class="badge badge-alert-(\w+)"', client.get(f"/alerts/{query}").content.decode())

    assert rules_listed("") == ["low_efficiency"]
    assert rules_listed("?state=acknowledged") == ["voltage_collapse"]
    assert sorted(rules_listed("?state=all")) == ["low_efficiency", "voltage_collapse"]
    assert rules_listed("?state=all&rule=voltage_collapse") == ["voltage_collapse"]


def test_the_rules_page_edits_a_projects_rules_for_writers_only(logged_in, people, project):
    writer = logged_in(people["writer"])
    page = writer.get(f"/alerts/rules/?project={project.pk}").content.decode()
    assert "This project uses the defaults." in page and 'value="98.0"' in page and "Save the rules" in page
    response = writer.post(f"/alerts/rules/?project={project.pk}", {
        "project": project.pk, "efficiency_watched": "on", "efficiency_floor_percent": "97.5", "formation_cycles": "3",
        "collapse_watched": "on", "collapse_drop_v": "0.4", "collapse_baseline_cycles": "5",
        "retention_floor_percent": "80", "silence_watched": "on", "silence_h": "12"})
    assert response.status_code == 302
    rules = AlertRules.objects.get(project=project)
    assert rules.as_watch_rules() == alert_services.core.WatchRules(
        efficiency_floor=0.975, formation_cycles=3, collapse_drop_v=0.4, retention_floor=None, silence_h=12.0)
    refused = writer.post(f"/alerts/rules/?project={project.pk}", {
        "project": project.pk, "efficiency_floor_percent": "150", "formation_cycles": "2", "collapse_drop_v": "0.5",
        "collapse_baseline_cycles": "5", "retention_floor_percent": "80", "silence_h": "6"}).content.decode()
    assert "Ensure this value is less than or equal to 100.0." in refused
    assert AlertRules.objects.get(project=project).efficiency_floor_percent == 97.5

    reader = logged_in(people["reader"])
    page = reader.get(f"/alerts/rules/?project={project.pk}").content.decode()
    assert "Save the rules" not in page and 'value="97.5"' in page and "disabled" in page
    assert reader.post(f"/alerts/rules/?project={project.pk}", {"project": project.pk}).status_code == 403


# -- the API ---------------------------------------------------------------------------------------

def test_the_api_lists_a_projects_alerts_to_its_members_and_a_writer_acknowledges_one(watched, api, people):
    dataset = watched(cycles_at_05c=16, drop_from_cycle=15)
    other = factories.ProjectFactory(name="Other lab")
    factories.member(other, people["outsider"])
    alert = Alert.objects.get()

    listed = api(people["reader"]).get("/api/v1/alerts/?acknowledged=false").json()
    assert listed["count"] == 1
    row = listed["results"][0]
    assert row["id"] == alert.pk and row["cell"] == dataset.run.cell.human_id and row["run"] == dataset.run.human_id
    assert (row["rule"], row["cycle_number"], row["acknowledged"]) == ("low_efficiency", 15, False)
    assert row["details"]["definition"].startswith("Coulombic efficiency (out ÷ in)")
    assert api(people["outsider"]).get("/api/v1/alerts/").json()["count"] == 0
    assert api(people["outsider"]).get(f"/api/v1/alerts/{alert.pk}/").status_code == 404
    assert api(people["reader"]).get(f"/api/v1/alerts/?cell={dataset.run.cell.human_id}").json()["count"] == 1
    assert api(people["reader"]).get("/api/v1/alerts/?cell=CELL-9999").json()["count"] == 0
    assert api(people["reader"]).get("/api/v1/alerts/?rule=retention").json()["count"] == 0

    refused = api(people["reader"]).post(f"/api/v1/alerts/{alert.pk}/acknowledge/", {"note": "x"}, format="json")
    assert refused.status_code == 403 and "reader" in refused.json()["detail"]
    done = api(people["writer"]).post(f"/api/v1/alerts/{alert.pk}/acknowledge/", {"note": "seen"}, format="json")
    assert done.status_code == 200
    assert (done.json()["acknowledged"], done.json()["acknowledged_by"], done.json()["acknowledgement_note"]) == (
        True, "wei", "seen")
    twice = api(people["writer"]).post(f"/api/v1/alerts/{alert.pk}/acknowledge/", {}, format="json")
    assert twice.status_code == 400 and "already acknowledged by wei" in str(twice.json())
    assert api(people["reader"]).get("/api/v1/alerts/?acknowledged=true").json()["count"] == 1
    assert api(people["reader"]).get("/api/v1/alerts/?acknowledged=false").json()["count"] == 0


def test_the_admin_acknowledges_with_an_action(watched, client, manager):
    watched(cycles_at_05c=16, drop_from_cycle=15)
    alert = Alert.objects.get()
    client.force_login(manager)
    assert client.get("/admin/analysis/alert/").status_code == 200
    assert client.get(f"/admin/analysis/alert/{alert.pk}/change/").status_code == 200
    client.post("/admin/analysis/alert/", {"action": "acknowledge", "_selected_action": [alert.pk]})
    alert.refresh_from_db()
    assert alert.acknowledged_by == manager
    assert client.get("/admin/analysis/alertrules/add/").status_code == 200


def test_cycling_run_state_change_stops_the_watch(lab, watched, people):
    run = lab.run(lab.half_cell())
    cell_services.cycling_run_update(user=people["writer"], run=run, state="finished")
    watched(run=run, cycles_at_05c=16, drop_from_cycle=15)
    assert Alert.objects.count() == 0
