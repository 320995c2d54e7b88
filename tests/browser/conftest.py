"""Browser tests: Debian's Chromium (/usr/bin/chromium, headless, no browser downloads) driven by
Playwright against pytest-django's live server on the test PostgreSQL database.

Every request the browser makes is recorded, and any that does not go to the live server is
refused and fails the test; so does any console error or uncaught exception. Every page the
server sends must carry its content security policy (ELN_CONTENT_SECURITY_POLICY: no inline
script or style), so a page that needs one fails too (Chromium reports the refusal as a
console error). Each journey ends with a screenshot in var/browser-screenshots/.
"""
import os
import pathlib
from urllib.parse import urlsplit

import pytest

from tests.paths import REPO_ROOT

CHROMIUM = pathlib.Path(os.environ.get("ELN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SCREENSHOTS = pathlib.Path(os.environ.get("ELN_SCREENSHOT_DIR", REPO_ROOT / "var" / "browser-screenshots"))


@pytest.fixture
def demo_lab(transactional_db):
    """The paper's lab, its members, and the 70 MPa NaCrO2 half cell's cycling file ingested."""
    from django.contrib.auth import get_user_model

    from analysis.demo.cycling import DEMO_RUNS, as_upload, spec_for
    from analysis.demo.lab import load_demo_lab
    from analysis.core import synthetic
    from analysis.services import raw_file_receive
    from eln.models import ProjectMembership

    records = load_demo_lab()
    User = get_user_model()
    people = {
        "writer": User.objects.create_user("wei", "wei@lab.example", "pw-wei"),
        "reader": User.objects.create_user("rita", "rita@lab.example", "pw-rita"),
    }
    for who, role in (("writer", ProjectMembership.Role.WRITER), ("reader", ProjectMembership.Role.READER)):
        ProjectMembership.objects.create(project=records["project"], user=people[who], role=role)
    preset, base, arguments = DEMO_RUNS["nco95_70mpa"]
    run = records["runs"]["nco95_70mpa"]
    table = preset(cell=spec_for(run.cell, base), **arguments).table
    received = raw_file_receive(run=run, uploaded=as_upload(f"{run.human_id}.bdf.csv", synthetic.to_bdf_csv(table)),
                                user=records["user"])
    received.dataset.refresh_from_db()
    assert received.dataset.state == "done", received.dataset.message
    return {**records, "people": people, "dataset": received.dataset}


class Journey:
    """One browser session: the page, what it requested, what went wrong in it."""

    def __init__(self, context, server_url: str, name: str):
        self.context, self.server = context, urlsplit(server_url)
        self.name = name
        self.requests: list[str] = []
        self.outside: list[str] = []
        self.errors: list[str] = []
        context.on("request", self._on_request)
        context.route("**/*", self._with_policy)
        self.page = context.new_page()
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(
            f"console: {message.text} ({message.location.get('url', '')})"))
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _on_request(self, request):
        self.requests.append(request.url)
        if urlsplit(request.url).netloc != self.server.netloc:
            self.outside.append(request.url)

    def _with_policy(self, route):
        if urlsplit(route.request.url).netloc != self.server.netloc:
            route.abort("blockedbyclient")  # nothing leaves the server, even if a page asked for it
            return
        if route.request.resource_type in ("xhr", "fetch") and route.request.method != "GET":
            # A script's upload goes on with the browser's own body (with its progress events):
            # the interception cannot carry a file's bytes. Its answer is data, not a page.
            route.continue_()
            return
        response = route.fetch(max_redirects=0)
        policy = response.headers.get("content-security-policy", "")
        if "text/html" in response.headers.get("content-type", "") and (
                "script-src 'self'" not in policy or "unsafe" in policy.split("script-src")[1].split(";")[0]):
            self.errors.append(f"no strict content security policy on {route.request.url}: {policy!r}")
        route.fulfill(response=response)

    def url(self, path: str) -> str:
        return f"{self.server.scheme}://{self.server.netloc}{path}"

    def log_in(self, username: str, password: str, then: str = "/"):
        self.page.goto(self.url(then))
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_load_state("networkidle")

    def screenshot(self, step: str = ""):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = f"{self.name}-{step}" if step else self.name
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def assert_clean(self):
        assert self.requests, "the browser made no request"
        assert self.outside == [], f"requests left the server: {self.outside}"
        assert self.errors == [], "\n".join(self.errors)


@pytest.fixture
def journey(request, live_server, monkeypatch):
    """journey() -> a fresh browser session on the live server; checked when the test ends."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests use Debian's Chromium "
                    "(./scripts/test installs it; or apt-get install chromium chromium-driver).")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # around it are ordinary synchronous code (the live server runs in threads of its own).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    journeys = []

    def start(name: str = "") -> Journey:
        context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-GB")
        context.set_default_timeout(15_000)
        journeys.append(Journey(context, live_server.url, name or request.node.name.removeprefix("test_")))
        return journeys[-1]

    yield start
    try:
        for each in journeys:
            each.assert_clean()
    finally:
        # While Playwright's loop runs, the ORM works on connections of their own (asgiref's
        # context-local storage); close them here, or they outlive the test database.
        from django.db import connections

        connections.close_all()
        browser.close()
        playwright.stop()
