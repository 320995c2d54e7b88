"""Cycler PCs authenticate with their cycler's token: ``Authorization: Cycler <key>``."""
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from cells.models import CyclerToken


class CyclerPrincipal:
    """Who a request comes from when a cycler's token signed it: not a person, so not an
    authenticated *user* either (nothing that records people, like the change history, takes
    it for one). The views open to cyclers admit it with ``PersonOrCycler``."""

    is_authenticated = False
    is_anonymous = True
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, token: CyclerToken):
        self.token = token
        self.cycler = token.cycler

    def __str__(self):
        return f"cycler {self.cycler.name}"


class CyclerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Cycler"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace") != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the cycler token as 'Authorization: Cycler <key>'.")
        key = header[1].decode(errors="replace")
        token = CyclerToken.objects.select_related("cycler").filter(key_hash=CyclerToken.hash_key(key)).first()
        if token is None:
            raise exceptions.AuthenticationFailed("Unknown cycler token.")
        if not token.is_active:
            raise exceptions.AuthenticationFailed(f"This cycler token ({token.key_prefix}…) was revoked.")
        CyclerToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return CyclerPrincipal(token), token

    def authenticate_header(self, request):
        return self.keyword


class PersonOrCycler(permissions.BasePermission):
    """A logged-in person, or a cycler PC with a valid token."""

    def has_permission(self, request, view):
        return isinstance(request.user, CyclerPrincipal) or bool(request.user and request.user.is_authenticated)


class CyclerTokenScheme(OpenApiAuthenticationExtension):
    """The cycler token in the API's schema."""

    target_class = CyclerTokenAuthentication
    name = "cyclerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "a cycler PC's token: `Authorization: Cycler <key>`"}
