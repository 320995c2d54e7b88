"""Whatever a script sends, the API answers with a status a client can act on, never a 500."""
import pytest

from analysis.demo.lab import load_demo_lab

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    "projects", "materials", "lots", "electrolyte-batches", "infiltration-solutions", "alloy-batches",
    "electrode-sheets", "electrodes", "infiltration-runs", "protocols", "cells", "cycling-runs",
    "cyclers", "channels",
]

NASTY_VALUES = [None, "", "x" * 5000, -1, 1e308, "NaN", "1,5", [{}], {"a": [1]}, True, "CELL-0001", "\x00🔋"]


def payloads(example: dict):
    yield {}
    yield []
    yield "just a string"
    for key in example:
        for value in NASTY_VALUES:
            yield {**example, key: value}
    # nested child rows with every field nasty
    for key, value in example.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for nasty in NASTY_VALUES:
                yield {**example, key: [{k: nasty for k in value[0]}]}


@pytest.fixture
def lab():
    return load_demo_lab()


def example_of(client, endpoint):
    listing = client.get(f"/api/v1/{endpoint}/").json()
    rows = listing["results"] if isinstance(listing, dict) else listing
    return rows[0] if rows else {}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_create_and_update_never_answer_500(api, lab, endpoint):
    client = api(lab["user"])
    example = {k: v for k, v in example_of(client, endpoint).items()
               if k not in ("id", "created_at", "modified_at", "created_by", "modified_by")}
    assert example, f"the demo lab has no {endpoint}"
    for payload in payloads(example):
        response = client.post(f"/api/v1/{endpoint}/", payload, format="json")
        assert response.status_code < 500, (endpoint, payload, response.content[:500])
    row = example_of(client, endpoint)
    detail = f"/api/v1/{endpoint}/{row['id']}/"
    for payload in payloads(example):
        response = client.patch(detail, payload, format="json")
        assert response.status_code < 500, (endpoint, payload, response.content[:500])


@pytest.mark.parametrize("query", [
    {"limit": "-1"}, {"limit": "abc"}, {"offset": "1e9"}, {"ordering": "nonexistent"}, {"search": "\x00"},
    {"created_after": "yesterday"}, {"low_stock": "maybe"}, {"kind": "spaceship"}, {"stack_pressure_mpa__lte": "x"},
])
def test_list_filters_never_answer_500(api, lab, query):
    client = api(lab["user"])
    for endpoint in ENDPOINTS:
        response = client.get(f"/api/v1/{endpoint}/", query)
        assert response.status_code < 500, (endpoint, query, response.content[:300])


def test_malformed_bodies_never_answer_500(api, lab):
    client = api(lab["user"])
    for body, content_type in [(b"{not json", "application/json"), (b"\xff\xfe", "application/json"),
                               (b"a=1", "application/x-www-form-urlencoded"), (b"--x\r\n", "multipart/form-data")]:
        response = client.generic("POST", "/api/v1/lots/", body, content_type=content_type)
        assert response.status_code < 500


def test_nan_and_infinity_are_refused_by_name(api, lab):
    lot = lab["lots"]["Na2B12H12"]
    response = api(lab["user"]).patch(f"/api/v1/lots/{lot.human_id}/", {"purity_percent": "NaN"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"purity_percent": ["A valid number is required."]}


def test_token_and_upload_endpoints_never_answer_500(api, lab):
    anonymous = api(None)
    for body in ({"username": ["a"], "password": {"x": 1}}, {"username": "\x00", "password": "x"},
                 {"username": "demo"}, {"username": "x" * 10_000, "password": "y"}):
        assert anonymous.post("/api/v1/auth/token/", body, format="json").status_code == 400
    client = api(lab["user"])
    run = lab["runs"]["nco95_70mpa"]
    for path in (f"/api/v1/cycling-runs/{run.human_id}/raw-files/", "/api/v1/cycling-runs/RUN-9999/raw-files/",
                 "/api/v1/cycling-runs/not-a-run/raw-files/"):
        for data, fmt in (({"file": "not a file"}, "multipart"), ({"file": [1, 2]}, "json"), ({}, "multipart")):
            assert client.post(path, data, format=fmt).status_code < 500
    for path in ("/api/v1/datasets/DS-9999/status/", "/api/v1/datasets/nonsense/status/",
                 "/api/v1/datasets/DS-9999/data/", "/api/v1/cells/CELL-9999/metrics/"):
        assert client.get(path).status_code == 404
