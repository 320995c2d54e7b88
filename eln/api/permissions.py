from rest_framework import permissions

from eln.permissions import can_write


class ProjectRecordPermission(permissions.BasePermission):
    """Members read a project's records; only members with write rights change them.

    Records outside the user's projects are already absent from the queryset (404).
    """

    message = "You are a reader of this project; only members with write rights can change its records."

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        return can_write(request.user, obj.project)


class StaffWritesOrReadOnly(permissions.BasePermission):
    """Shared lab data (materials, cyclers): everybody reads, lab managers (staff) write."""

    message = "Only lab managers (staff) can change shared lab data such as materials and cyclers."

    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or request.user.is_staff
