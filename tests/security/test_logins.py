"""Logins are throttled and locked out after repeated failures, on the login page and on the
API's token endpoint alike; the lockout ends when its window has passed (the clock is moved)."""
import datetime as dt

import pytest
from django.utils import timezone

from eln.security.models import LoginFailure

TOKEN_URL = "/api/v1/auth/token/"
LOCKED = "Too many failed logins for this username or from this address: try again after "


@pytest.fixture
def clock(monkeypatch):
    """The time the lockout reads, moved by the test (``clock.move(minutes=16)``)."""

    class Clock:
        now = timezone.now().replace(microsecond=0)

        def move(self, **delta):
            self.now += dt.timedelta(**delta)

    clock = Clock()
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    return clock


def login_page(client, username, password, **extra):
    return client.post("/login/", {"username": username, "password": password}, **extra)


def test_sixty_wrong_passwords_lock_the_login_page_until_the_window_has_passed(client, people, clock):
    answers = [login_page(client, "wei", "guess").status_code for _ in range(60)]
    assert answers == [200] * 10 + [429] * 50  # the form again with its error, then the lockout
    # the 11th and later tries were refused before their password was checked, and not counted
    assert LoginFailure.objects.filter(username="wei").count() == 10
    refused = login_page(client, "wei", "pw-wei")
    assert refused.status_code == 429 and refused["Retry-After"] == "900"
    until = timezone.localtime(clock.now + dt.timedelta(minutes=15))
    assert f"{LOCKED}{until:%H:%M %Z} (in 15 minutes)." in refused.content.decode()
    assert "_auth_user_id" not in client.session

    clock.move(minutes=14, seconds=59)
    assert login_page(client, "wei", "pw-wei").status_code == 429
    clock.move(seconds=2)
    response = login_page(client, "wei", "pw-wei")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(people["writer"].pk)
    assert not LoginFailure.objects.filter(username="wei").exists()  # in: the count starts again


def test_the_window_slides_the_lockout_ends_when_the_tenth_latest_failure_leaves_it(client, people, clock):
    for _ in range(9):
        login_page(client, "wei", "guess")
    clock.move(minutes=10)
    login_page(client, "wei", "guess")  # the 10th failure within 15 minutes
    refused = login_page(client, "wei", "pw-wei")
    assert refused.status_code == 429 and refused["Retry-After"] == str(5 * 60)  # the first 9 leave at 15 min
    clock.move(minutes=5, seconds=1)
    assert login_page(client, "wei", "pw-wei").status_code == 302


def test_failures_from_one_address_lock_out_every_username_tried_from_it(client, people, clock):
    for n in range(10):
        login_page(client, f"nobody{n}", "guess", REMOTE_ADDR="198.51.100.7")
    assert login_page(client, "rita", "pw-rita", REMOTE_ADDR="198.51.100.7").status_code == 429
    # the same person from another address is not the attacker
    assert login_page(client, "rita", "pw-rita", REMOTE_ADDR="198.51.100.8").status_code == 302


def test_the_token_endpoint_is_locked_out_with_429_retry_after_and_a_json_detail(api, people, clock, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"login": "1000/minute"}}
    anonymous = api(None)
    for _ in range(60):
        wrong = anonymous.post(TOKEN_URL, {"username": "wei", "password": "guess"})
        assert wrong.status_code in (400, 429)
    refused = anonymous.post(TOKEN_URL, {"username": "wei", "password": "pw-wei"})
    assert refused.status_code == 429 and refused["Retry-After"] == "900"
    until = timezone.localtime(clock.now + dt.timedelta(minutes=15))
    assert refused.json() == {"detail": f"{LOCKED}{until:%H:%M %Z} (in 15 minutes)."}
    clock.move(minutes=15, seconds=1)
    answer = anonymous.post(TOKEN_URL, {"username": "wei", "password": "pw-wei"})
    assert answer.status_code == 200 and answer.json()["token"]


def test_failures_on_the_page_and_on_the_api_add_up(client, api, people, clock):
    for _ in range(5):
        login_page(client, "wei", "guess")
    for _ in range(5):
        assert api(None).post(TOKEN_URL, {"username": "wei", "password": "guess"}).status_code == 400
    assert api(None).post(TOKEN_URL, {"username": "wei", "password": "pw-wei"}).status_code == 429
    assert login_page(client, "wei", "pw-wei").status_code == 429


def test_the_token_endpoint_is_throttled_per_address(api, people, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"login": "3/minute"}}
    anonymous = api(None)
    for _ in range(3):
        assert anonymous.post(TOKEN_URL, {"username": "rita", "password": "pw-rita"}).status_code == 200
    throttled = anonymous.post(TOKEN_URL, {"username": "rita", "password": "pw-rita"})
    assert throttled.status_code == 429 and 0 < int(throttled["Retry-After"]) <= 60
    assert throttled.json()["detail"].startswith("Request was throttled. Expected available in ")
