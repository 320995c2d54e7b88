"""What every page's frame shows: the projects a member can switch between and the one chosen.
Lazy, so that pages which do not show them (the admin, the browsable API) make no query."""
from django.utils.functional import SimpleLazyObject

from eln.pages import current_project
from eln.permissions import visible_projects


def site(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "member_projects": SimpleLazyObject(lambda: list(visible_projects(user).distinct())),
        "current_project": SimpleLazyObject(lambda: current_project(request)),
    }
