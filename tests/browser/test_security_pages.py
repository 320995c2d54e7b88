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
    expect(j.page.locator(".swagger-ui .info .title")).to_contain_text("closo-eln API")
    expect(j.page.locator(".opblock-tag", has_text="lots").first).to_be_visible()
    j.screenshot("swagger")
    j.page.goto(j.url("/api/v1/redoc/"))
    expect(j.page.get_by_role("heading", name="closo-eln API")).to_be_visible(timeout=30_000)
    j.screenshot("redoc")
