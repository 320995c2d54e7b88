"""API tokens: stored as the SHA-256 of their key (shown once), expiring, listed and revoked
by their owner; tokens made before they were hashed are hashed by the migration."""
import datetime as dt
import hashlib
import re

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from eln.security.models import ApiToken
from eln.security.services import api_token_issue

TOKEN_URL = "/api/v1/auth/token/"


def table_text() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM eln_apitoken")
        return repr(cursor.fetchall())


def test_a_token_is_stored_as_a_hash_and_its_key_shown_once(api, people):
    answer = api(None).post(TOKEN_URL, {"username": "wei", "password": "pw-wei", "label": "nightly export"})
    assert answer.status_code == 200
    body = answer.json()
    key = body["token"]
    token = ApiToken.objects.get()
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest() and token.key_prefix == key[:8]
    assert key not in table_text()
    assert body["label"] == "nightly export" and body["state"] == "active" and body["prefix"] == key[:8]
    assert dt.timedelta(days=89, hours=23) < token.expires_at - timezone.now() <= dt.timedelta(days=90)
    assert api(None).get("/api/v1/lots/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    # the list shows the owner's tokens, never a key
    listing = api(people["writer"]).get("/api/v1/auth/tokens/").json()
    assert [row["prefix"] for row in listing["results"]] == [key[:8]] and "token" not in listing["results"][0]
    assert key not in str(listing)
    # each exchange makes a new token: a key cannot be shown again
    second = api(None).post(TOKEN_URL, {"username": "wei", "password": "pw-wei"}).json()["token"]
    assert second != key and ApiToken.objects.filter(user=people["writer"]).count() == 2


def test_an_expired_token_is_refused_saying_so(api, people):
    token, key = api_token_issue(user=people["writer"], days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    refused = api(None).get("/api/v1/lots/", HTTP_AUTHORIZATION=f"Token {key}")
    assert refused.status_code == 401
    assert refused.json()["detail"].startswith(f"This API token ({key[:8]}…) expired on ")
    assert api(None).get("/api/v1/lots/", HTTP_AUTHORIZATION="Token not-a-key").json() == {
        "detail": "Unknown API token."}


def test_a_token_lives_the_days_asked_up_to_the_setting(api, people, settings):
    settings.ELN_API_TOKEN_DAYS = 30
    short = api(None).post(TOKEN_URL, {"username": "wei", "password": "pw-wei", "days": 7}).json()
    assert dt.timedelta(days=6, hours=23) < ApiToken.objects.get(key_prefix=short["prefix"]).expires_at - timezone.now()
    too_long = api(None).post(TOKEN_URL, {"username": "wei", "password": "pw-wei", "days": 31})
    assert too_long.status_code == 400 and too_long.json() == {"days": ["Ensure this value is at most 30 days."]}


def test_the_owner_revokes_a_token_and_it_authenticates_nothing_more(api, people):
    token, key = api_token_issue(user=people["writer"], label="old laptop")
    kept, kept_key = api_token_issue(user=people["writer"], label="lab PC")
    # another person can neither see nor revoke it
    assert api(people["reader"]).get("/api/v1/auth/tokens/").json()["count"] == 0
    assert api(people["reader"]).post(f"/api/v1/auth/tokens/{token.pk}/revoke/").json() == {
        "detail": "You have no API token with this id."}
    revoked = api(people["writer"]).post(f"/api/v1/auth/tokens/{token.pk}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    refused = api(None).get("/api/v1/lots/", HTTP_AUTHORIZATION=f"Token {key}")
    assert refused.status_code == 401 and refused.json() == {"detail": f"This API token ({key[:8]}…) was revoked."}
    assert api(None).get("/api/v1/lots/", HTTP_AUTHORIZATION=f"Token {kept_key}").status_code == 200
    states = {row["label"]: row["state"] for row in api(people["writer"]).get("/api/v1/auth/tokens/").json()["results"]}
    assert states == {"old laptop": "revoked", "lab PC": "active"}


def test_a_logged_in_person_makes_a_token_without_a_password(api, people):
    made = api(people["writer"]).post("/api/v1/auth/tokens/", {"label": "plots notebook"})
    assert made.status_code == 201
    key = made.json()["token"]
    assert ApiToken.objects.get(label="plots notebook").key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert api(None).post("/api/v1/auth/tokens/", {"label": "x"}).status_code in (401, 403)


@pytest.mark.django_db(transaction=True)
def test_the_migration_hashes_the_plain_tokens_of_before(people):
    """A database from before: rest_framework.authtoken's table with a plain key in it."""
    executor = MigrationExecutor(connection)
    executor.migrate([("eln", "0002_notebook")])
    plain = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamptz NOT NULL,"
                       " user_id integer NOT NULL)")
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, now(), %s)", [plain, people["writer"].pk])
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert plain not in table_text()
    assert "authtoken_token" not in connection.introspection.table_names()
    token = ApiToken.objects.get()
    assert token.user == people["writer"] and token.key_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert token.state == "active"
    # the script that had the key goes on working
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/lots/", HTTP_AUTHORIZATION=f"Token {plain}").status_code == 200


def test_the_tokens_page_makes_shows_once_and_revokes(client, api, people):
    client.force_login(people["writer"])
    page = client.post("/tokens/", {"label": "cycling notebook", "days": "10"}).content.decode()
    key = re.search(r'<code class="token-key">([^<]+)</code>', page).group(1)
    token = ApiToken.objects.get(label="cycling notebook")
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest() and "Copy it now: it is not shown again." in page
    listing = client.get("/tokens/").content.decode()
    assert key not in listing and f"<code>{key[:8]}…</code>" in listing and "active" in listing
    assert api(None).get("/api/v1/lots/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    after = client.post("/tokens/", {"revoke": str(token.pk)}, follow=True).content.decode()
    assert f"The token {key[:8]}… is revoked: it authenticates nothing more." in after
    assert api(None).get("/api/v1/lots/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401
    # another person's token is not theirs to revoke
    other, _ = api_token_issue(user=people["reader"])
    refused = client.post("/tokens/", {"revoke": str(other.pk)}, follow=True).content.decode()
    assert "You have no API token with this id." in refused
    assert ApiToken.objects.get(pk=other.pk).revoked_at is None
    too_long = client.post("/tokens/", {"days": "400"}).content.decode()
    assert "Ensure this value is at most 90 days." in too_long
