"""The content security policy of every answer (ELN_CONTENT_SECURITY_POLICY): a script or a
style runs only from the site's own static files, so text a person typed into a record can
never run as code. An answer that sets its own policy keeps it (a notebook attachment is
sandboxed more strictly)."""
from django.conf import settings

HEADER = "Content-Security-Policy"


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if HEADER not in response and settings.ELN_CONTENT_SECURITY_POLICY:
            response[HEADER] = settings.ELN_CONTENT_SECURITY_POLICY
        return response
