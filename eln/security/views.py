"""The login page (with the lockout's answer), a person's API tokens page, and the admin's
door: staff only."""
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from eln.security.backends import LoginLockedOut
from eln.security.selectors import api_tokens_of
from eln.security.services import api_token_issue, api_token_revoke


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


@login_required
def api_tokens(request):
    """Your API tokens: made here (the key shown on this page once), listed and revoked."""
    made = None
    form = TokenForm()
    if request.method == "POST":
        if "revoke" in request.POST:
            token = api_tokens_of(request.user).filter(pk=request.POST["revoke"]).first() \
                if request.POST["revoke"].isdigit() else None
            if token is None:
                messages.error(request, "You have no API token with this id.")
            else:
                api_token_revoke(user=request.user, token=token)
                messages.success(request, f"The token {token.key_prefix}… is revoked: it authenticates nothing more.")
            return HttpResponseRedirect(reverse("tokens"))
        form = TokenForm(request.POST)
        if form.is_valid():
            token, key = api_token_issue(user=request.user, label=form.cleaned_data["label"],
                                         days=form.cleaned_data["days"])
            made = {"token": token, "key": key}
            form = TokenForm()
    return render(request, "eln/api_tokens.html", {
        "title": "API tokens", "section": "tokens", "tokens": api_tokens_of(request.user), "made": made,
        "form": form, "longest_days": settings.ELN_API_TOKEN_DAYS,
    })


class TokenForm(forms.Form):
    label = forms.CharField(max_length=100, required=False, help_text="what it is for, e.g. the script or computer")
    days = forms.IntegerField(min_value=1, required=False, help_text="days until it expires")

    def clean_days(self):
        days = self.cleaned_data["days"]
        if days and days > settings.ELN_API_TOKEN_DAYS:
            raise forms.ValidationError(f"Ensure this value is at most {settings.ELN_API_TOKEN_DAYS} days.")
        return days
