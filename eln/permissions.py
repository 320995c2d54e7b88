"""Who sees and who changes a project's records. One rule, used by the API and the admin."""
from django.db.models import QuerySet

from eln.models import Project, ProjectMembership


def visible_projects(user) -> QuerySet[Project]:
    if not user or not user.is_authenticated:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


def writable_projects(user) -> QuerySet[Project]:
    if not user or not user.is_authenticated:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(
        memberships__user=user, memberships__role__in=ProjectMembership.WRITING_ROLES
    )


def can_write(user, project: Project) -> bool:
    return writable_projects(user).filter(pk=project.pk).exists()


def visible_records(user, queryset: QuerySet) -> QuerySet:
    """A LabRecord queryset cut down to the projects the user is a member of."""
    return queryset.filter(project__in=visible_projects(user))
