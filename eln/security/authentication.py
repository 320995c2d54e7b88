"""Scripts authenticate with a person's API token: ``Authorization: Token <key>``."""
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from eln.security.models import ApiToken, hash_key
from eln.security.services import api_token_mark_used


class ApiTokenAuthentication(TokenAuthentication):
    """The key is looked up by its SHA-256; a revoked or expired token is refused saying so."""

    model = ApiToken

    def authenticate_credentials(self, key):
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_key(key)).first()
        if token is None:
            raise exceptions.AuthenticationFailed("Unknown API token.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(f"This API token ({token.key_prefix}…) was revoked.")
        if token.expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed(
                f"This API token ({token.key_prefix}…) expired on {timezone.localtime(token.expires_at):%Y-%m-%d %H:%M}; "
                "make a new one (POST /api/v1/auth/token/).")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("This API token's user is inactive.")
        api_token_mark_used(token=token)
        return token.user, token
