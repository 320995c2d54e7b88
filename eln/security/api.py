"""API tokens in the API: a username and password exchanged for a new token
(`POST /api/v1/auth/token/`, throttled, and locked out after repeated failures), a person's own
tokens listed without their keys (`GET /api/v1/auth/tokens/`), a new one made by a logged-in
person (`POST /api/v1/auth/tokens/`) and one revoked (`POST /api/v1/auth/tokens/<id>/revoke/`)."""
from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.exceptions import ErrorDetail, NotFound, Throttled
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from eln.api.schema import DETAIL
from eln.security import selectors, services
from eln.security.backends import LoginLockedOut
from eln.security.models import ApiToken


class LoginThrottle(ScopedRateThrottle):
    """The scoped rates as the settings say now (DRF's class reads them once, at import)."""

    @property
    def THROTTLE_RATES(self):
        return api_settings.DEFAULT_THROTTLE_RATES


class LoginRefused(Throttled):
    """429 with Retry-After until the lockout ends, and the lockout's own message."""

    def __init__(self, locked: LoginLockedOut):
        super().__init__(wait=locked.retry_after_seconds)
        self.detail = ErrorDetail(locked.messages[0], code="locked_out")


class TokenOptionsSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=100, required=False, default="", allow_blank=True,
                                  help_text="what the token is for, e.g. the script or computer")
    days = serializers.IntegerField(required=False, min_value=1, help_text="days until it expires "
                                    "(default and longest: ELN_API_TOKEN_DAYS)")

    def validate_days(self, days):
        if days > settings.ELN_API_TOKEN_DAYS:
            raise serializers.ValidationError(f"Ensure this value is at most {settings.ELN_API_TOKEN_DAYS} days.")
        return days


class TokenRequestSerializer(TokenOptionsSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class ApiTokenSerializer(serializers.ModelSerializer):
    prefix = serializers.CharField(source="key_prefix", read_only=True)
    state = serializers.CharField(read_only=True, help_text="active, expired or revoked")

    class Meta:
        model = ApiToken
        fields = ("id", "label", "prefix", "state", "created_at", "expires_at", "last_used_at", "revoked_at")
        read_only_fields = fields


class NewTokenSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="the key: shown this once, only its hash is stored")

    class Meta(ApiTokenSerializer.Meta):
        fields = ("token", *ApiTokenSerializer.Meta.fields)
        read_only_fields = fields


def _new_token_answer(token: ApiToken, key: str, code: int) -> Response:
    token.token = key
    return Response(NewTokenSerializer(token).data, status=code)


class TokenView(APIView):
    """Exchange a username and password for a new API token, sent by scripts as
    `Authorization: Token <key>`. The key is in this answer only."""

    permission_classes = [permissions.AllowAny]
    authentication_classes = []
    throttle_classes = [LoginThrottle]
    throttle_scope = "login"

    @extend_schema(request=TokenRequestSerializer, responses={
        200: NewTokenSerializer, 429: DETAIL})
    def post(self, request):
        credentials = TokenRequestSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        data = credentials.validated_data
        try:
            user = authenticate(request, username=data["username"], password=data["password"])
        except LoginLockedOut as locked:
            raise LoginRefused(locked) from None
        if user is None:
            return Response({"detail": "Wrong username or password."}, status=status.HTTP_400_BAD_REQUEST)
        token, key = services.api_token_issue(user=user, label=data["label"], days=data.get("days"))
        return _new_token_answer(token, key, status.HTTP_200_OK)


class OwnTokensView(generics.ListAPIView):
    """The logged-in person's API tokens, newest first, without their keys; POST makes a new one."""

    serializer_class = ApiTokenSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema's look at the view
            return ApiToken.objects.none()
        return selectors.api_tokens_of(self.request.user)

    @extend_schema(request=TokenOptionsSerializer, responses={201: NewTokenSerializer})
    def post(self, request):
        options = TokenOptionsSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        token, key = services.api_token_issue(user=request.user, label=options.validated_data["label"],
                                              days=options.validated_data.get("days"))
        return _new_token_answer(token, key, status.HTTP_201_CREATED)


class RevokeTokenView(APIView):
    """Revoke one of your own tokens: it authenticates nothing more."""

    @extend_schema(request=None, responses={200: ApiTokenSerializer})
    def post(self, request, pk: int):
        token = selectors.api_tokens_of(request.user).filter(pk=pk).first()
        if token is None:
            raise NotFound("You have no API token with this id.")
        return Response(ApiTokenSerializer(services.api_token_revoke(user=request.user, token=token)).data)
