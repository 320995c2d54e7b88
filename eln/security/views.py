"""The login page (with the lockout's answer) and the admin's door: staff only."""
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from eln.security.backends import LoginLockedOut


class LoginView(auth_views.LoginView):
    """The site's login page; a locked-out login answers 429 with Retry-After and says until when."""

    template_name = "eln/login.html"
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        for error in form.non_field_errors().as_data():
            if isinstance(error, LoginLockedOut):
                response.status_code = 429
                response["Retry-After"] = str(error.retry_after_seconds)
        return response

def admin_login(request, extra_context=None):
    """The admin has no login page of its own: people log in on the site's page (and its
    lockout); a member who is not staff is sent to the researchers' pages."""
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = reverse("admin:index")
    if request.user.is_authenticated:
        if request.user.is_active and request.user.is_staff:
            return HttpResponseRedirect(next_url)
        messages.info(request, "The admin is for lab managers (staff); your records are in these pages.")
        return HttpResponseRedirect(reverse("dashboard"))
    return redirect_to_login(next_url, login_url=reverse("login"))
