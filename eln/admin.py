"""The admin: the lab manager's record browser and inventory tool.

Every model is registered on a ``SimpleHistoryAdmin`` base, so each change page has a History
button listing who changed what and when. This module holds the bases the apps' admins share:

- ``ProjectScopedMixin``: rows, choices and write rights follow ``eln.permissions`` (the same
  rule as the API): a non-superuser sees the records of the projects they are a member of and
  changes those of the projects they may write to.
- ``LabRecordAdmin``: label id first, search by label id and notes, ``created_by`` /
  ``modified_by`` filled in on save, derived numbers in their own read-only section.
- ``derived()``: a read-only field showing a number the model computes; inconsistent inputs
  (a ValueError from ``analysis.core.process``) show "—" with the message instead of an error page.
"""
import logging
from operator import attrgetter

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from eln.models import HumanIdCounter, LabRecord, Project, ProjectMembership
from eln.permissions import can_write, visible_projects, writable_projects

logger = logging.getLogger(__name__)

NO_VALUE = "—"
RECORD_META_FIELDS = ("created_at", "created_by", "modified_at", "modified_by")

admin.site.site_header = "closo-eln administration"
admin.site.site_title = "closo-eln admin"
admin.site.index_title = "Records, inventory and lab equipment"


# --- derived numbers ----------------------------------------------------------------------


def format_number(value, digits: int = 4, unit: str = "") -> str:
    text = f"{value:.{digits}g}"
    return f"{text} {unit}".strip()


def derived(attr, description: str, *, unit: str = "", digits: int = 4, percent: bool = False,
            fmt=None):
    """A read-only admin field for a value the model computes.

    ``attr`` names a property or a method without arguments (dotted paths allowed), or is a
    function of the object.

    ``None`` (inputs missing) shows "—"; a ValueError or an arithmetic error (inconsistent
    inputs, e.g. a disc lighter than its foil) shows "—" with the message; any other error is
    logged and shows "—" with a short note, so a derived number never turns a page into a 500.
    """

    def display(self, obj):
        if obj is None or obj.pk is None:
            return NO_VALUE
        try:
            value = attr(obj) if callable(attr) else attrgetter(attr)(obj)
            if callable(value):
                value = value()
        except (ValueError, ArithmeticError) as error:
            return format_html('{} <span class="derived-error" style="color:#ba2121">({})</span>',
                               NO_VALUE, str(error))
        except Exception:  # a bug, not the user's data: keep the page usable, keep the traceback
            logger.exception("computing %s of %r", attr, obj)
            return format_html('{} <span class="derived-error" style="color:#ba2121">({})</span>',
                               NO_VALUE, "could not be computed; see the server log")
        if value is None:
            return NO_VALUE
        if fmt is not None:
            return fmt(value)
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, (int, float)):
            if percent:
                return f"{value * 100:.1f} %"
            return format_number(value, digits, unit)
        return str(value)

    display.short_description = description
    name = attr.replace(".", "_") if isinstance(attr, str) else getattr(attr, "__name__", "value")
    display.__name__ = f"derived_{name}"
    return display


# --- who sees and changes what ------------------------------------------------------------


class ScopedChoicesMixin:
    """Foreign-key choices: projects the user may write to, lab records of visible projects."""

    # The foreign key to the record a child row belongs to (e.g. "batch"): only records of
    # projects the user may write to are offered there, other records of visible projects.
    parent_field: str | None = None

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        model = db_field.remote_field.model
        user = request.user
        if "queryset" not in kwargs:
            if model is Project:
                kwargs["queryset"] = writable_projects(user)
            elif issubclass(model, LabRecord) and not user.is_superuser:
                projects = writable_projects(user) if db_field.name == self.parent_field else visible_projects(user)
                kwargs["queryset"] = model._default_manager.filter(project__in=projects)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ProjectScopedMixin(ScopedChoicesMixin):
    """Rows of the user's projects only; change and delete only where the user may write.

    ``project_path`` is the lookup from the model to its Project ("project" for a lab record,
    "batch__project" for a batch's child row); None for lab-wide data (materials, cyclers).
    Superusers see and change everything.
    """

    project_path: str | None = "project"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self.project_path and not request.user.is_superuser:
            queryset = queryset.filter(**{f"{self.project_path}__in": visible_projects(request.user)})
        return queryset

    def project_of(self, obj):
        if not self.project_path or obj is None:
            return None
        try:
            return attrgetter(self.project_path.replace("__", "."))(obj)
        except AttributeError:
            return None

    def _may_write(self, request, obj) -> bool:
        if obj is None or request.user.is_superuser or not self.project_path:
            return True
        project = self.project_of(obj)
        return project is None or can_write(request.user, project)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may_write(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._may_write(request, obj)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # simple_history's revert view saves on POST with only view rights; require change rights.
        if request.method == "POST":
            obj = self.get_object(request, unquote(object_id))
            if obj is None or not self.has_change_permission(request, obj):
                raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class HistoryAdmin(ProjectScopedMixin, SimpleHistoryAdmin):
    """Base of every admin here: history, project scoping, derived numbers read-only.

    ``derived_fields`` names read-only fields made with ``derived()``; they are shown in a
    section of their own on the change page (not on the add page, where nothing is computed).
    """

    derived_fields: tuple[str, ...] = ()

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields + [f for f in self.derived_fields if f not in fields]

    def get_fieldsets(self, request, obj=None):
        if self.fieldsets:
            return super().get_fieldsets(request, obj)
        fields = list(self.get_fields(request, obj))
        meta = [f for f in fields if f in RECORD_META_FIELDS]
        computed = [f for f in fields if f in self.derived_fields]
        main = [f for f in fields if f not in meta and f not in computed]
        if obj is None and "human_id" in main:
            main.remove("human_id")  # given on save
        fieldsets = [(None, {"fields": main})]
        if computed and obj is not None:
            fieldsets.append(("Derived numbers", {"fields": computed}))
        if meta and obj is not None:
            fieldsets.append(("Record", {"fields": meta, "classes": ["collapse"]}))
        return fieldsets

    def save_formset(self, request, form, formset, change):
        # Child rows that record who made them (ledger lines) get the user; history too.
        for child_form in formset.forms:
            instance = child_form.instance
            instance._history_user = request.user
            if instance.pk is None and hasattr(instance, "created_by_id") and instance.created_by_id is None:
                instance.created_by = request.user
        formset.request_user = request.user
        super().save_formset(request, form, formset, change)


class ChildInline(ScopedChoicesMixin, admin.TabularInline):
    """A child row edited on its parent's page."""

    extra = 0
    show_change_link = False


class LabRecordAdmin(HistoryAdmin):
    """A project record: label id first, search by label id and notes, who made and changed it."""

    list_display = ("human_id", "project", "created_at", "created_by")
    list_filter = ("project",)
    search_fields = ("human_id", "notes")
    readonly_fields = ("human_id",) + RECORD_META_FIELDS
    list_select_related = ("project", "created_by")
    date_hierarchy = "created_at"

    def get_list_display(self, request):
        fields = list(super().get_list_display(request))
        if "human_id" in fields:
            fields.remove("human_id")
        return ["human_id", *fields]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and "project" not in fields:
            fields.append("project")  # a record does not move to another project (as in the API)
        return fields

    def get_fields(self, request, obj=None):
        # label id and project first, the record's own fields, notes last
        fields = list(super().get_fields(request, obj))
        head = [f for f in ("human_id", "project") if f in fields]
        tail = [f for f in ("notes",) if f in fields]
        return head + [f for f in fields if f not in head and f not in tail] + tail

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        obj.modified_by = request.user
        super().save_model(request, obj, form, change)


# --- eln's own models -----------------------------------------------------------------------


class ProjectMembershipInline(ChildInline):
    model = ProjectMembership
    fields = ("user", "role")
    autocomplete_fields = ("user",)
    extra = 1


@admin.register(Project)
class ProjectAdmin(HistoryAdmin):
    project_path = None  # scoped below: a project is visible to its members
    list_display = ("name", "member_count", "created_at")
    search_fields = ("name", "description")
    readonly_fields = ("created_at",)
    inlines = (ProjectMembershipInline,)

    def get_queryset(self, request):
        queryset = super().get_queryset(request).annotate(member_total=Count("memberships", distinct=True))
        if not request.user.is_superuser:
            queryset = queryset.filter(pk__in=visible_projects(request.user))
        return queryset

    @admin.display(description="members", ordering="member_total")
    def member_count(self, obj):
        return obj.member_total

    def _is_manager(self, request, obj) -> bool:
        return request.user.is_superuser or obj.memberships.filter(
            user=request.user, role=ProjectMembership.Role.MANAGER
        ).exists()

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or self._is_manager(request, obj))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or self._is_manager(request, obj))


@admin.register(ProjectMembership)
class ProjectMembershipAdmin(HistoryAdmin):
    list_display = ("project", "user", "role")
    list_filter = ("role", "project")
    search_fields = ("project__name", "user__username", "user__email")
    list_select_related = ("project", "user")
    autocomplete_fields = ("user",)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "project" and not request.user.is_superuser:
            kwargs["queryset"] = Project.objects.filter(
                memberships__user=request.user, memberships__role=ProjectMembership.Role.MANAGER
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _may_write(self, request, obj):
        if obj is None or request.user.is_superuser:
            return True
        return obj.project.memberships.filter(user=request.user, role=ProjectMembership.Role.MANAGER).exists()


class ReadOnlyAdminMixin:
    """Browse only: the rows are written elsewhere (processes, counters, computations)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(HumanIdCounter)
class HumanIdCounterAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The label-id counters, for reference only: a number is never handed out twice.

    (No history on this model, hence the plain ModelAdmin; editing it could reuse ids.)
    """

    list_display = ("prefix", "last_number")
    search_fields = ("prefix",)
