"""The frame of the researchers' pages: login for every member, the dashboard, the project
switcher, the static files the pages load, and pages that keep to a content security policy
without inline scripts or styles."""
import pathlib
import re

import pytest
from django.urls import reverse

from django.utils.html import escape

from eln.models import Project, ProjectMembership

pytestmark = pytest.mark.django_db
ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_a_writer_who_is_not_staff_logs_in_on_the_site_and_lands_on_the_dashboard(client, people, project):
    assert not people["writer"].is_staff
    page = client.get("/login/")
    assert page.status_code == 200 and b'name="username"' in page.content

    response = client.post("/login/", {"username": "wei", "password": "pw-wei"})
    assert response.status_code == 302 and response["Location"] == "/"
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    text = dashboard.content.decode()
    assert "<h1>Dashboard</h1>" in text and ">wei<" in text
    assert 'href="/admin/"' not in text  # the admin is for staff


def test_a_wrong_password_is_refused_with_a_message(client, people):
    response = client.post("/login/", {"username": "wei", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_pages_send_anonymous_visitors_to_the_login_and_back(client, lab):
    lot, cell = lab.lot(), lab.half_cell()
    for url in ("/", "/lots/", f"/lots/{lot.human_id}/", "/cells/", f"/cells/{cell.human_id}/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"/login/?next={url}"


def test_the_admin_stays_for_staff(logged_in, people):
    response = logged_in(people["writer"]).get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert logged_in(people["lab_manager"]).get("/admin/").status_code == 200


def test_logging_out_is_a_post_and_ends_the_session(logged_in, people):
    client = logged_in(people["writer"])
    assert client.get("/logout/").status_code == 405  # a link cannot log anyone out
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_the_dashboard_shows_running_tests_failed_ingestions_low_stock_and_recent_records(logged_in, people, lab):
    low = lab.lot("Na2B10H10", quantity_mg=2000, low_stock_threshold_mg=1500)
    lab.correct(low, 600)
    cell = lab.half_cell(name="NCO 95:2:3 at 70 MPa")
    run = lab.run(cell)
    failed = lab.failed_dataset(run, "cell-1.csv")

    text = logged_in(people["reader"]).get("/").content.decode()
    assert "Running tests" in text and run.human_id in text
    failures = text.split("Failed ingestions")[1].split("</section>")[0]
    assert failed.human_id in failures and escape(failed.message) in failures and "cell-1.csv" in failed.message
    low_stock = text.split("Low stock")[1].split("</section>")[0]
    assert low.human_id in low_stock and "1400.0\u00a0mg" in low_stock  # 2000 − 600, below 1500
    assert f'<a href="/cells/{cell.human_id}/">{cell.human_id}</a>' in text


def test_the_project_switcher_narrows_every_page_to_one_project(logged_in, people, project, lab):
    other = Project.objects.create(name="Sn anodes")
    ProjectMembership.objects.create(project=other, user=people["writer"], role="writer")
    ours, theirs = lab.lot("Na2B12H12"), lab.lot("Sn", in_project=other)
    client = logged_in(people["writer"])

    both = client.get("/lots/").content.decode()
    assert ours.human_id in both and theirs.human_id in both and "all my projects" in both

    response = client.post("/project/", {"project": other.pk, "next": "/lots/"})
    assert response.status_code == 302 and response["Location"] == "/lots/"
    narrowed = client.get("/lots/").content.decode()
    assert theirs.human_id in narrowed and ours.human_id not in narrowed
    assert "Showing the records of project “Sn anodes”." in narrowed

    client.post("/project/", {"project": "", "next": "/lots/"})
    assert ours.human_id in client.get("/lots/").content.decode()


def test_the_switcher_refuses_a_project_the_user_is_not_in_and_an_outside_return_address(logged_in, people, lab):
    foreign = Project.objects.create(name="Not ours")
    client = logged_in(people["writer"])
    response = client.post("/project/", {"project": foreign.pk, "next": "https://elsewhere.example/"})
    assert response["Location"] == "/"
    assert "You are not a member of that project" in client.get("/").content.decode()
    assert "eln_current_project" not in client.session


def test_every_script_and_stylesheet_a_page_names_is_served_from_the_site(logged_in, people, lab):
    """The libraries from npm and the site's own files; nothing from elsewhere."""
    lot, cell = lab.lot(), lab.half_cell()
    lab.batch_from((lot, 10))
    lab.good_dataset(lab.run(cell))  # a cell with data has plots
    client = logged_in(people["writer"])
    assets = set()
    for url in ("/login/", "/", "/lots/", f"/lots/{lot.human_id}/", "/cells/", f"/cells/{cell.human_id}/"):
        html = client.get(url).content.decode()
        for src in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html):
            assert src.startswith("/static/"), f"{url} loads {src}"
            assets.add(src)
    assert {"/static/vendor/htmx/htmx.min.js", "/static/vendor/uplot/uPlot.iife.min.js",
            "/static/vendor/uplot/uPlot.min.css", "/static/vendor/cytoscape/cytoscape.min.js",
            "/static/eln/site.css", "/static/eln/site.js", "/static/eln/plots.js", "/static/eln/lineage.js"} <= assets
    for src in assets:
        response = client.get(src)
        assert response.status_code == 200, src
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert len(body) > 100, src


def test_the_npm_libraries_are_the_locked_versions():
    import json

    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    for name in ("htmx.org", "uplot", "cytoscape"):
        installed = json.loads((ROOT / "node_modules" / name / "package.json").read_text())
        assert installed["version"] == lock[f"node_modules/{name}"]["version"], name


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I), "an inline script"),
    (re.compile(r"<style\b", re.I), "a style element"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an event handler attribute"),
    (re.compile(r"\shx-on", re.I), "an hx-on handler (evaluated code)"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def site_templates():
    for app in ("eln", "samples", "cells", "analysis"):
        folder = ROOT / app / "templates"
        for path in folder.rglob("*.html") if folder.exists() else ():
            if "admin" not in path.relative_to(folder).parts:  # the admin's own pages are Django's
                yield path


def test_no_template_of_the_pages_has_inline_scripts_styles_or_handlers():
    found = []
    for path in site_templates():
        text = path.read_text()
        found += [f"{path.relative_to(ROOT)}: {what}" for pattern, what in INLINE if pattern.search(text)]
    assert found == []
    assert len(list(site_templates())) >= 10


def test_rendered_pages_have_no_inline_scripts_or_styles(logged_in, people, lab):
    """json_script data blocks are allowed: a policy without inline scripts does not run them."""
    lot, cell = lab.lot(), lab.half_cell()
    lab.batch_from((lot, 10))
    client = logged_in(people["writer"])
    for url in ("/", "/lots/", f"/lots/{lot.human_id}/", "/cells/", f"/cells/{cell.human_id}/"):
        html = client.get(url).content.decode()
        assert [what for pattern, what in INLINE if pattern.search(html)] == [], url
    anonymous_login = client.__class__().get(reverse("login")).content.decode()
    assert [what for pattern, what in INLINE if pattern.search(anonymous_login)] == []
