"""The API documentation and the tokens page under the site's content security policy, in a
real headless Chromium: they draw, and Chromium refuses nothing (a refusal is a console error,
which fails the journey)."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow


def test_the_api_documentation_draws_under_the_policy(journey, demo_lab):
    j = journey("api-docs")
    j.log_in("wei", "pw-wei")
    j.page.goto(j.url("/api/v1/docs/"))
    # the page draws once the schema of the whole API is made (seconds on a busy machine)
    expect(j.page.locator(".swagger-ui .info .title")).to_contain_text("closo-eln API", timeout=60_000)
    expect(j.page.locator(".opblock-tag", has_text="lots").first).to_be_visible()
    j.screenshot("swagger")
    j.page.goto(j.url("/api/v1/redoc/"))
    expect(j.page.locator("h1").first).to_contain_text("closo-eln API", timeout=60_000)
    j.screenshot("redoc")
