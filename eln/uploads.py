"""Streaming uploads: the file goes to a temporary file chunk by chunk while its SHA-256 is
computed, so a large cycler file is never held in memory."""
import hashlib

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import QueryDict
from drf_spectacular.authentication import SessionScheme
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS

CSRF_HEADER_MISSING = (
    "CSRF Failed: an upload through the browser session sends its CSRF token in the X-CSRFToken header "
    "(the page's csrfmiddlewaretoken, or the csrftoken cookie); a form field is not read before the file.")


class UploadTooLarge(Exception):
    def __init__(self, limit_bytes: int):
        self.limit_bytes = limit_bytes
        super().__init__(f"The file is larger than the upload limit of {limit_bytes} bytes.")


class HashingUploadHandler(TemporaryFileUploadHandler):
    """Writes each file to disk, computing its SHA-256 on the way; refuses past ``limit_bytes``."""

    def __init__(self, request=None, *, limit_bytes: int):
        super().__init__(request)
        self.limit_bytes = limit_bytes

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self._sha256 = hashlib.sha256()
        self._received = 0

    def receive_data_chunk(self, raw_data, start):
        self._received += len(raw_data)
        if self._received > self.limit_bytes:
            self.file.close()
            raise UploadTooLarge(self.limit_bytes)
        self._sha256.update(raw_data)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        uploaded = super().file_complete(file_size)
        uploaded.sha256 = self._sha256.hexdigest()
        return uploaded


class _BodyUnread:
    """The request as the CSRF check sees it: method, cookies and headers, but no form. Django's
    check reads the form for a token first, which would parse the whole upload before the view
    sets its streaming handler."""

    def __init__(self, request):
        self._request = request
        self.POST = QueryDict()

    def __getattr__(self, name):
        return getattr(self._request, name)


class StreamingSessionAuthentication(SessionAuthentication):
    """A browser session, for an upload: Django's CSRF check (cookie or session secret, origin,
    referer) with the token from the X-CSRFToken header only, so the body is left unread until
    the view has set the hashing handler, exactly as for a token upload."""

    def enforce_csrf(self, request):
        if request.method not in SAFE_METHODS and settings.CSRF_HEADER_NAME not in request.META:
            raise PermissionDenied(CSRF_HEADER_MISSING)
        super().enforce_csrf(_BodyUnread(request))


class StreamingSessionScheme(SessionScheme):
    """An upload's browser session in the API's schema: the session cookie, with the CSRF token
    in its header."""

    target_class = StreamingSessionAuthentication
    name = "sessionUpload"

    def get_security_definition(self, auto_schema):
        return {**super().get_security_definition(auto_schema),
                "description": "the browser's session cookie; the page's CSRF token goes in the X-CSRFToken header"}


__all__ = ["HashingUploadHandler", "StreamingSessionAuthentication", "UploadTooLarge", "StopUpload"]
