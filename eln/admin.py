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
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from eln import services
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


def formset_rows(formset) -> list[dict]:
    """An inline's rows as the service takes them: every row that stays, with its id when it
    exists (new rows left empty and rows marked for deletion are not rows)."""
    fk = formset.fk.name
    names = {field.name for field in formset.model._meta.concrete_fields} - {fk, "id"}
    rows = []
    for form in formset.forms:
        data = getattr(form, "cleaned_data", None)
        if not data or (formset.can_delete and formset._should_delete_form(form)):
            continue
        if form.instance.pk is None and not form.has_changed():
            continue
        row = {name: value for name, value in data.items() if name in names}
        if form.instance.pk is not None:
            row["id"] = form.instance.pk
        rows.append(row)
    return rows


class RefusalShownMixin:
    """A service's refusal (a ValidationError raised while saving) rolls the save back and shows
    the page again with the service's messages and everything the user typed."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as refusal:
            if getattr(request, "_eln_refusal", None) is not None:
                raise
            request._eln_refusal = refusal  # shown by the forms of the second pass
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        refusal = getattr(request, "_eln_refusal", None)
        if refusal is None:
            return form_class
        messages = refusal.message_dict if hasattr(refusal, "error_dict") else {NON_FIELD_ERRORS: refusal.messages}
        opts = self.model._meta

        class RefusedForm(form_class):
            def clean(self):
                data = super().clean()
                for field, texts in messages.items():
                    if field in self.fields:
                        self.add_error(field, texts)
                        continue
                    try:
                        label = str(opts.get_field(field).verbose_name) if field != NON_FIELD_ERRORS else ""
                    except Exception:  # noqa: BLE001 - a child set's name
                        label = field.replace("_", " ")
                    self.add_error(None, [f"{label}: {text}" if label else text for text in texts])
                return data

        return RefusedForm


class ServiceWritesMixin(RefusalShownMixin):
    """Saves and deletes through the record's service, never around it.

    The page's forms check what they can alone (types, required fields, the model's ``clean``);
    then ``save_related`` hands the record with the rows of its inlines to the service
    (``create_service`` / ``update_service`` with ``record_kwarg``, or the generic engine).
    """

    create_service = None
    update_service = None
    record_kwarg = ""

    def save_model(self, request, obj, form, change):
        pass  # written in save_related, with the inlines' rows, by the service

    def child_rows(self, formsets) -> dict[str, list[dict]]:
        spec = services.spec_for(self.model)
        by_model = {child.model: name for name, child in spec.children.items()}
        rows = {}
        for formset in formsets:
            name = by_model.get(formset.model)
            if name is not None and not getattr(formset, "read_only_rows", False):
                rows[name] = formset_rows(formset)
        return rows

    def save_related(self, request, form, formsets, change):
        children = self.child_rows(formsets)
        for formset in formsets:  # read by the admin's change message; the service saved the rows
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        obj = form.instance
        if change:
            if self.update_service is not None:
                type(self).update_service(user=request.user, **{self.record_kwarg: obj}, **children)
            else:
                services.record_save(services.spec_for(self.model), user=request.user, record=obj, children=children)
            return
        if self.create_service is not None:
            fields = {name: value for name, value in form.cleaned_data.items()
                      if name in {f.name for f in self.model._meta.concrete_fields}}
            saved = type(self).create_service(user=request.user, **fields, **children)
            obj.pk, obj._state.adding, obj._state.db = saved.pk, False, saved._state.db
            if hasattr(saved, "human_id"):
                obj.human_id = saved.human_id
        else:
            services.record_save(services.spec_for(self.model), user=request.user, record=obj, children=children)

    def delete_model(self, request, obj):
        services.record_delete(user=request.user, record=obj)

    def get_deleted_objects(self, objs, request):
        # Child rows are read-only on their own pages but go with their record (the service
        # gives back their stock): their admin's "no delete" must not block the record's delete.
        to_delete, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        try:
            spec = services.spec_for(self.model)
        except LookupError:
            return to_delete, model_count, perms_needed, protected
        rows = {str(child.model._meta.verbose_name) for child in spec.children.values()}
        return to_delete, model_count, {name for name in perms_needed if str(name) not in rows}, protected

    def delete_queryset(self, request, queryset):
        for obj in self.model._default_manager.filter(pk__in=[o.pk for o in queryset]):
            services.record_delete(user=request.user, record=obj)


class ReadOnlyAdminMixin:
    """Browse only: rows written elsewhere (processes, counters, computations), or child rows
    edited on their record's page, where the record's service checks them with the others."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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


class ServiceRowsFormSet(BaseInlineFormSet):
    """An inline's rows, which the record's service checks together: that is where a row given
    twice is refused, with the message every entry point gives."""

    def validate_unique(self):
        pass


class ChildInline(ScopedChoicesMixin, admin.TabularInline):
    """A child row edited on its parent's page."""

    formset = ServiceRowsFormSet
    extra = 0
    show_change_link = False


class LabRecordAdmin(ServiceWritesMixin, HistoryAdmin):
    """A project record: label id first, search by label id and notes, who made and changed it;
    written by its service."""

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



# --- eln's own models -----------------------------------------------------------------------


class ProjectMembershipInline(ChildInline):
    model = ProjectMembership
    fields = ("user", "role")
    autocomplete_fields = ("user",)
    extra = 1


@admin.register(Project)
class ProjectAdmin(ServiceWritesMixin, HistoryAdmin):
    project_path = None  # scoped below: a project is visible to its members
    update_service = staticmethod(services.project_update)
    record_kwarg = "project"
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
class ProjectMembershipAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    """Memberships are changed on their project's page."""

    list_display = ("project", "user", "role")
    list_filter = ("role", "project")
    search_fields = ("project__name", "user__username", "user__email")
    list_select_related = ("project", "user")


@admin.register(HumanIdCounter)
class HumanIdCounterAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The label-id counters, for reference only: a number is never handed out twice.

    (No history on this model, hence the plain ModelAdmin; editing it could reuse ids.)
    """

    list_display = ("prefix", "last_number")
    search_fields = ("prefix",)


from eln.notebook import admin as notebook_admin  # noqa: E402,F401 - registers the notebook

# Only staff use the admin; everybody logs in on the site's page (eln.security.views).
from eln.security import admin as security_admin  # noqa: E402,F401 - registers tokens and failed logins
from eln.security.views import admin_login  # noqa: E402

admin.site.login = admin_login
