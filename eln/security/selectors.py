"""Reads: whether a login is locked out, and a person's API tokens."""
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from eln.security.models import ApiToken, LoginFailure


def login_window() -> timedelta:
    return timedelta(minutes=settings.ELN_LOGIN_FAILURES_WINDOW_MINUTES)


def login_locked_until(*, username: str, address: str | None) -> datetime | None:
    """When logins for this username or from this address are accepted again, or None when they
    are now: ELN_LOGIN_FAILURES_LIMIT failures within the window lock them until the oldest of
    those failures leaves the window."""
    limit = settings.ELN_LOGIN_FAILURES_LIMIT
    recent = LoginFailure.objects.filter(at__gt=timezone.now() - login_window())
    limiting = [
        recent.filter(who).order_by("-at").values_list("at", flat=True)[limit - 1:limit].first()
        for who in (Q(username=username), Q(address=address) if address else None) if who is not None
    ]
    limiting = [at for at in limiting if at is not None]
    return max(limiting) + login_window() if limiting else None

def api_tokens_of(user):
    """A person's own tokens, newest first (without keys: only their hashes are stored)."""
    return ApiToken.objects.filter(user=user)
