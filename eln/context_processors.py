"""What every page's frame shows: the projects a member can switch between and the one chosen."""
from eln.pages import current_project
from eln.permissions import visible_projects


def site(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "member_projects": list(visible_projects(user).distinct()),
        "current_project": current_project(request),
    }
