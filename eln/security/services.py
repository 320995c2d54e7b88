"""Writes: API tokens issued and revoked, failed logins recorded and forgotten."""
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from eln.security.models import ApiToken, LoginFailure, new_key
from eln.security.selectors import login_window


def api_token_issue(*, user, label: str = "", days: int | None = None) -> tuple[ApiToken, str]:
    """A new API token for ``user``; returns it with its key, which is not stored and is shown
    only now. It expires after ``days`` (default ELN_API_TOKEN_DAYS)."""
    key, prefix, key_hash = new_key()
    now = timezone.now()
    token = ApiToken.objects.create(
        user=user, label=label, key_prefix=prefix, key_hash=key_hash, created_at=now,
        expires_at=now + timedelta(days=days or settings.ELN_API_TOKEN_DAYS))
    return token, key


@transaction.atomic
def api_token_revoke(*, user, token: ApiToken) -> ApiToken:
    """Revoke one of the user's own tokens for good (a second revoke changes nothing)."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk, user=user)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_mark_used(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())


def login_failure_record(*, username: str, address: str | None) -> None:
    """Count a failed login; failures older than the window are no longer needed."""
    now = timezone.now()
    LoginFailure.objects.filter(at__lte=now - login_window()).delete()
    LoginFailure.objects.create(username=username[:150], address=address or None, at=now)


def login_failures_forget(*, username: str) -> None:
    """The person got in: their username's count starts again."""
    LoginFailure.objects.filter(username=username).delete()
