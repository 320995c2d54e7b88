"""Every login (the login page, POST /api/v1/auth/token/, the browsable API's login) goes
through ``django.contrib.auth.authenticate`` and so through this backend: a username or an
address with too many recent failures is refused before its password is even checked."""
import ipaddress
from datetime import datetime

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.dispatch import receiver
from django.utils import timezone
from rest_framework.throttling import BaseThrottle

from eln.security.selectors import login_locked_until
from eln.security.services import login_failure_record, login_failures_forget


class LoginLockedOut(ValidationError):
    """Too many failed logins: shown on the login form, answered 429 by the API."""

    def __init__(self, until: datetime):
        self.until = until
        wait = max(1, round((until - timezone.now()).total_seconds() / 60))
        super().__init__(
            f"Too many failed logins for this username or from this address: try again after "
            f"{timezone.localtime(until):%H:%M %Z} (in {wait} minute{'s' if wait != 1 else ''}).",
            code="locked_out")

    @property
    def retry_after_seconds(self) -> int:
        return max(1, int((self.until - timezone.now()).total_seconds() + 0.999))


def client_address(request) -> str | None:
    """The client's address as the throttles see it (ELN_NUM_PROXIES proxies trusted)."""
    if request is None:
        return None
    ident = BaseThrottle().get_ident(request)
    if not ident:  # a request with no peer address (a WSGI call in process)
        return None
    try:
        return str(ipaddress.ip_address(ident.strip()))
    except ValueError:
        return None


class LockoutModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        name = username if username is not None else kwargs.get("username", "")
        until = login_locked_until(username=name or "", address=client_address(request))
        if until is not None:
            raise LoginLockedOut(until)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            login_failures_forget(username=user.get_username())
        return user


@receiver(user_login_failed, dispatch_uid="eln.security.login_failed")
def _count_failed_login(sender, credentials, request=None, **kwargs):
    login_failure_record(username=str(credentials.get("username") or ""), address=client_address(request))
