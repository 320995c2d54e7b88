"""The site's own pages: the dashboard and the project switcher (login and logout are
Django's views with the site's templates, wired in the URL configuration)."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from eln.pages import CURRENT_PROJECT_KEY, dashboard_panels
from eln.permissions import visible_projects


@login_required
def dashboard(request):
    return render(request, "eln/dashboard.html", {
        "title": "Dashboard", "section": "dashboard", "panels": dashboard_panels(request),
    })


@login_required
@require_POST
def choose_project(request):
    """Show one project's records everywhere, or (empty choice) those of every project."""
    chosen = request.POST.get("project", "")
    project = visible_projects(request.user).filter(pk=chosen).first() if chosen.isdigit() else None
    if project is None:
        request.session.pop(CURRENT_PROJECT_KEY, None)
        if chosen:
            messages.error(request, "You are not a member of that project; showing all your projects.")
        else:
            messages.info(request, "Showing the records of all your projects.")
    else:
        request.session[CURRENT_PROJECT_KEY] = project.pk
        messages.info(request, f"Showing the records of project “{project.name}”.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        back = reverse("dashboard")
    return HttpResponseRedirect(back)
