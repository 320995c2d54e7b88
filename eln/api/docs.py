"""The API's documentation pages, under the site's content security policy: no inline script
or style (the site's own templates), and no font from the internet."""
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

from eln.security.csp import HEADER


class SwaggerDocsView(SpectacularSwaggerSplitView):
    """Swagger UI; its start script is a second request to the same address (``?script``)."""

    template_name = "eln/api/swagger_ui.html"


class RedocDocsView(SpectacularRedocView):
    """Redoc. It writes its styles into the page as it draws it, and searches in a worker made
    from a blob: this page alone allows both; scripts still come only from the site."""

    template_name = "eln/api/redoc.html"
    POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
              "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response[HEADER] = self.POLICY
        return response
