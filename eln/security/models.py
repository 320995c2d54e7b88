"""API tokens and failed logins."""
import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

KEY_PREFIX_LENGTH = 8


def hash_key(key: str) -> str:
    """What is stored of a token's key: its SHA-256 (the key itself is shown once, when it is made)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str, str]:
    """A fresh random key with its prefix (to recognise it in a list) and its hash."""
    key = secrets.token_urlsafe(32)
    return key, key[:KEY_PREFIX_LENGTH], hash_key(key)


class ApiToken(models.Model):
    """A person's token for scripts (``Authorization: Token <key>``); a person may have several
    (one per script or computer), each with its expiry date, revoked by its owner."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    label = models.CharField(max_length=100, blank=True, help_text="e.g. the script or computer it is for")
    key_prefix = models.CharField(max_length=KEY_PREFIX_LENGTH, editable=False,
                                  help_text="the first characters of the key, to recognise it")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.user} token {self.key_prefix}… ({self.state})"

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= timezone.now() else "active"


class LoginFailure(models.Model):
    """One wrong password (or unknown username), kept for the lockout window."""

    username = models.CharField(max_length=150)
    address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["username", "at"]), models.Index(fields=["address", "at"])]
