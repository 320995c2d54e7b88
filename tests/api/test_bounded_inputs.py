"""Query parameters beyond what the database can hold are refused by name (or clamped, as the
schema says), never a server error: a page size past 64 bits, a time zone no country has, a
year 0, NaN in a number filter."""
import pytest

from analysis.demo.lab import load_demo_lab
from analysis.alerts.models import Alert  # noqa: F401 - the alerts list is among those checked

pytestmark = pytest.mark.django_db

LISTS_WITH_CREATED = [
    "lots", "electrolyte-batches", "infiltration-solutions", "alloy-batches", "electrode-sheets",
    "electrodes", "infiltration-runs", "protocols", "cells", "cycling-runs", "datasets",
]
OFFSET_REFUSED = ("The time zone offset {} is not one of the world's; offsets run from -12:00 to +14:00 "
                  "(e.g. 2024-05-01T08:00:00+02:00).")
NOT_A_DATE = ["Enter a valid date/time."]


@pytest.fixture
def lab():
    return load_demo_lab()


@pytest.fixture
def client(api, lab):
    client = api(lab["user"])
    client.raise_request_exception = False  # a 500 is an answer to assert on, not an exception
    return client


def test_a_limit_past_64_bits_is_clamped_to_the_largest_page(client):
    response = client.get("/api/v1/lots/", {"limit": "9223372036854775808"})
    assert response.status_code == 200
    body = response.json()
    assert len(body["results"]) == body["count"] == 11  # every lot of the demo lab: one page of at most 10000
    huge_offset = client.get("/api/v1/lots/", {"limit": "9223372036854775808", "offset": "9223372036854775808"})
    assert huge_offset.status_code == 200 and huge_offset.json()["results"] == []


def test_a_limit_above_the_largest_page_is_clamped_to_it():
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from eln.api.pagination import LabPagination

    for asked, given in (("9223372036854775808", 10_000), ("10001", 10_000), ("10000", 10_000), ("7", 7),
                         ("-1", 50), ("abc", 50), ("0", 50)):
        request = Request(APIRequestFactory().get("/api/v1/lots/", {"limit": asked}))
        assert LabPagination().get_limit(request) == given, asked


def test_the_schema_says_how_large_a_page_can_be(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    limit = next(p for p in schema["paths"]["/api/v1/lots/"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["description"] == ("Number of results to return per page (default 50, at most 10000; "
                                    "a larger limit is clamped to it).")


@pytest.mark.parametrize("endpoint", LISTS_WITH_CREATED)
def test_a_time_zone_no_country_has_is_refused_by_name_on_every_list(client, endpoint):
    for value, offset in (("2020-01-01T00:00:00+16:00", "+16:00"), ("2020-01-01T00:00:00-13:30", "-13:30"),
                          ("2020-01-01T00:00:00+23:59", "+23:59")):
        for name in ("created_after", "created_before"):
            response = client.get(f"/api/v1/{endpoint}/", {name: value})
            assert response.status_code == 400, (endpoint, name, value, response.content[:300])
            assert response.json() == {name: [OFFSET_REFUSED.format(offset)]}


@pytest.mark.parametrize("value", ["2020-01-01T00:00:00+99:00", "2020-01-01T00:00:00+24:00", "0000-01-01T00:00:00",
                                   "10000-01-01T00:00:00", "2020-13-01", "NaN", "-1"])
def test_dates_no_calendar_holds_are_refused_by_name(client, value):
    for endpoint in ("lots", "cells", "datasets"):
        response = client.get(f"/api/v1/{endpoint}/", {"created_after": value})
        assert response.status_code == 400, (endpoint, value, response.content[:300])
        assert response.json() == {"created_after": NOT_A_DATE}


def test_the_edges_of_the_calendar_and_of_the_time_zones_still_answer(client):
    for value in ("9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "2020-01-01T00:00:00+14:00",
                  "2020-01-01T00:00:00-12:00", "2020-01-01"):
        response = client.get("/api/v1/cells/", {"created_after": value})
        assert response.status_code == 200, (value, response.content[:300])
    assert client.get("/api/v1/cells/", {"created_after": "9999-12-31T23:59:59-12:00"}).json()["count"] == 0
    assert client.get("/api/v1/cells/", {"created_after": "0001-01-01T00:00:00+14:00"}).json()["count"] == 10


def test_the_alerts_time_filter_refuses_an_offset_by_name(client):
    response = client.get("/api/v1/alerts/", {"raised_after": "2020-01-01T00:00:00+16:00"})
    assert response.status_code == 400
    assert response.json() == {"raised_after": [OFFSET_REFUSED.format("+16:00")]}


def test_a_number_filter_refuses_what_is_not_a_number_by_name(client):
    for value in ("NaN", "nan", "inf", "-Infinity", "1,5", "0x10"):
        response = client.get("/api/v1/cells/", {"stack_pressure_mpa__lte": value})
        assert response.status_code == 400, (value, response.content[:300])
        assert response.json() == {"stack_pressure_mpa__lte": ["Enter a number."]}
    response = client.get("/api/v1/cells/", {"stack_pressure_mpa__lte": "1e999"})
    assert response.json() == {"stack_pressure_mpa__lte": ["Ensure this value is less than or equal to 1e+50."]}
