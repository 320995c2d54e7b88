"""The forms of the pages: each writes through the record's service and nothing else.

A form only parses what was typed (types, required fields); every rule is the service's.
``RecordFormView`` is the one helper every record's form is built on:

- the record's fields are a form, its child rows (a batch's inputs, a cell's parts) Django
  formsets named as the service names its child sets; rows keep their id, so the service
  matches them to the stored rows;
- on save, the fields and rows go to the service; a refusal (a ``ValidationError`` by field)
  is put back on the page: a field's message on its field, a child set's message above its
  rows, anything else above the form, with everything typed kept;
- the derived numbers (porosity, uptake, 1C current, N/P) are shown as you type: htmx posts
  the form with ``preview`` and the view answers the numbers of the unsaved record, computed
  by the model's own properties on the values typed, nothing saved;
- only members who may write in the project see the form; anyone else is refused (403),
  whether they open it or post to it.
"""
from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, PermissionDenied, ValidationError
from django.forms.models import modelform_factory
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views import View

from eln.models import Project
from eln.pages import current_project, record_url
from eln.permissions import can_write, writable_projects
from eln.services import spec_for

PREVIEW_PK = 0  # the pk of a record being typed, never saved: lets its related managers read the rows typed


class ServiceForm(forms.ModelForm):
    """A form over a model's fields that parses only: the model's rules run in its service."""

    def _post_clean(self):
        pass  # validation of the instance (its clean(), ranges, constraints) is the service's


class RowForm(ServiceForm):
    """One child row; ``row_id`` is the stored row's id, so the service keeps it in place."""

    row_id = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, offers=None, **kwargs):
        super().__init__(*args, **kwargs)
        for name, (queryset, options) in (offers or {}).items():
            self.fields[name].queryset = queryset
            self.fields[name].choices = options


class RowFormSet(forms.BaseFormSet):
    """A record's child rows, handed to its service as a whole set."""

    title = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.offers = {}

    def offer(self, field: str, queryset, label) -> None:
        """Offer ``queryset`` in ``field`` of every row (the template row too), each option
        written by ``label``; the options are read from the database once."""
        self.offers[field] = (queryset, choices(queryset, label))

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "offers": self.offers}

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        for name, field in form.fields.items():
            if not isinstance(field.widget, forms.HiddenInput):
                field.widget.attrs.setdefault("aria-label", f"{field.label}, row {i + 1}")
        return form

    def kept_forms(self):
        """The forms of the rows that stay: not deleted, not an extra row left empty."""
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)  # empty for an extra row left as it was
            if not data or (self.can_delete and self._should_delete_form(form)):
                continue
            yield form

    def rows(self) -> list[dict]:
        rows = []
        for form in self.kept_forms():
            row = {name: value for name, value in form.cleaned_data.items() if name not in ("row_id", "DELETE")}
            if form.cleaned_data.get("row_id"):
                row["id"] = form.cleaned_data["row_id"]
            rows.append(row)
        return rows

    def add_refusal(self, texts) -> None:
        """The service's messages about this set, shown above its rows."""
        self.non_form_errors()  # make sure the formset is cleaned first
        self._non_form_errors.extend(ValidationError(text) for text in texts)


@dataclass(frozen=True)
class Rows:
    """A child set of a form: the row fields offered and how many empty rows to show."""

    fields: tuple[str, ...]
    title: str
    extra: int = 1


def refusal_messages(refusal: ValidationError) -> dict[str, list[str]]:
    return refusal.message_dict if hasattr(refusal, "error_dict") else {NON_FIELD_ERRORS: refusal.messages}


def show_refusal(refusal: ValidationError, form, formsets: dict[str, RowFormSet]) -> None:
    """Put a service's refusal on the page: a field's message on its field, a child set's above
    its rows, the rest above the form (named by the field's label when it has one)."""
    model = form._meta.model
    for field, texts in refusal_messages(refusal).items():
        if field in formsets:
            formsets[field].add_refusal(texts)
        elif field in form.fields:
            form.add_error(field, texts)
        else:
            try:
                label = str(model._meta.get_field(field).verbose_name) if field != NON_FIELD_ERRORS else ""
            except FieldDoesNotExist:
                label = field.replace("_", " ")
            form.add_error(None, [f"{label[:1].upper()}{label[1:]}: {text}" if label else text for text in texts])


def with_rows(record, rows_by_set: dict[str, list]):
    """``record`` as the form describes it: its child sets read the rows given (unsaved rows
    typed in the form) in place of the stored ones, so the model's own properties compute its
    derived numbers. A record being typed gets a pk that is never saved."""
    if record.pk is None:
        record.pk = PREVIEW_PK
    cache = record.__dict__.setdefault("_prefetched_objects_cache", {})
    spec = spec_for(type(record))
    for name, rows in rows_by_set.items():
        child = spec.children[name]
        accessor = child.model._meta.get_field(child.parent_field).remote_field.get_accessor_name()
        for row in rows:
            setattr(row, child.parent_field, record)
        stored = child.model._default_manager.all()
        stored._result_cache, stored._prefetch_done = list(rows), True
        cache[accessor] = stored
    return record


def choices(queryset, label) -> list[tuple]:
    """A select's options, read once for every row of a formset."""
    return [("", "—")] + [(obj.pk, label(obj)) for obj in queryset]


def offer(field: forms.ModelChoiceField, queryset, label) -> None:
    """Offer ``queryset`` in ``field``, each option written by ``label`` (e.g. with its stock)."""
    field.queryset = queryset
    field.choices = choices(queryset, label)


class RecordFormView(LoginRequiredMixin, View):
    """Record or change one kind of record through its service.

    Subclasses set the model, the ``fields`` of its form, its child sets (``rows``: name →
    Rows, names as the service's spec), ``create(user, project, **fields)`` and ``update(user,
    record, **fields)`` calling the service, and may set the choices offered
    (``offer_choices``), initial values from the address (``initial``) and the derived numbers
    shown as you type (``derived_template`` with ``derived(record)``).
    """

    model = None
    fields: tuple[str, ...] = ()
    rows: dict[str, Rows] = {}
    template_name = "eln/record_form.html"
    derived_template = ""  # rendered with the unsaved record's numbers as you type
    section = ""
    what = ""  # "an infiltration run": the page's title says "Record an infiltration run"
    verb = "Record"
    widgets: dict = {}

    # -- what subclasses say ------------------------------------------------------------------

    def create(self, user, project, **fields):
        raise NotImplementedError

    def update(self, user, record, **fields):
        raise NotImplementedError

    def stored(self, user, label: str):
        """The record to change, among those the user sees (404 otherwise)."""
        raise NotImplementedError

    def offer_choices(self, form, projects) -> None:
        """Set what the record's selects offer (records of ``projects``, with their stock)."""

    def offer_row_choices(self, name: str, formset, projects, record) -> None:
        """Set what a child set's selects offer; called once per formset (every row, the
        template row included)."""

    def initial(self, request) -> dict:
        return {}

    def initial_rows(self, request) -> dict[str, list[dict]]:
        return {}

    def derived(self, record) -> dict:
        return {}

    def success_url(self, record) -> str:
        return record_url(record.human_id) or "/"

    # -- the machinery ------------------------------------------------------------------------

    def form_class(self, projects):
        form_class = modelform_factory(self.model, form=ServiceForm, fields=self.fields, widgets=self.widget_map())
        if projects is not None and len(projects) > 1:
            class WithProject(form_class):
                project = forms.ModelChoiceField(queryset=Project.objects.filter(pk__in=[p.pk for p in projects]),
                                                 empty_label=None, label="Project")
            WithProject.base_fields = {"project": WithProject.base_fields.pop("project"), **WithProject.base_fields}
            return WithProject
        return form_class

    def widget_map(self):
        widgets = dict(self.widgets)
        for name in self.fields:
            try:
                field = self.model._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            if name not in widgets and _widget_for(field) is not None:
                widgets[name] = _widget_for(field)
        return widgets

    def formset_class(self, name: str, rows: Rows):
        child = spec_for(self.model).children[name]
        widgets = {}
        for field_name in rows.fields:
            widget = _widget_for(child.model._meta.get_field(field_name))
            if widget is not None:
                widgets[field_name] = widget
        row_form = modelform_factory(child.model, form=RowForm, fields=rows.fields, widgets=widgets)
        formset = forms.formset_factory(row_form, formset=RowFormSet, extra=rows.extra, can_delete=True)
        formset.title = rows.title
        return formset

    def projects_for(self, request, record):
        """The projects the record may be written in; refused when there is none."""
        user = request.user
        if record is not None:
            if not can_write(user, record.project):
                raise PermissionDenied(f"You are a reader of project {record.project.name!r}; only members "
                                       "with write rights change its records.")
            return [record.project]
        projects = writable_projects(user)
        chosen = current_project(request)
        if chosen is not None:
            projects = projects.filter(pk=chosen.pk)
        projects = list(projects.order_by("name"))
        if not projects:
            where = f"project {chosen.name!r}" if chosen is not None else "any of your projects"
            raise PermissionDenied(f"You are a reader of {where}; only members with write rights add records.")
        return projects

    def stored_rows(self, record, name: str, rows: Rows) -> list[dict]:
        child = spec_for(self.model).children[name]
        stored = child.model._default_manager.filter(**{child.parent_field: record}, **child.only).order_by("pk")
        return [{**{f: _initial_value(row, f) for f in rows.fields}, "row_id": row.pk} for row in stored]

    def build(self, request, record, projects, data=None):
        form_class = self.form_class(projects if record is None else None)
        if record is not None:
            initial = {name: _initial_value(record, name) for name in self.fields}
            initial_rows = {name: self.stored_rows(record, name, rows) for name, rows in self.rows.items()}
        else:
            initial = self.initial(request)
            initial_rows = self.initial_rows(request)
        form = form_class(data=data, initial=initial)
        form.label_suffix = ""
        self.offer_choices(form, projects)
        formsets = {}
        for name, rows in self.rows.items():
            formset = self.formset_class(name, rows)(data=data, prefix=name, initial=initial_rows.get(name))
            self.offer_row_choices(name, formset, projects, record)
            formsets[name] = formset
        return form, formsets

    def unsaved(self, record, projects, form, formsets):
        """The record as typed (valid values only), with its rows: for the numbers as you type."""
        if record is not None and not form.is_bound:
            return record  # as stored
        instance = type(record).objects.get(pk=record.pk) if record is not None else self.model(project=projects[0])
        data = getattr(form, "cleaned_data", {})
        for name in self.fields:
            if name in data:
                setattr(instance, name, data[name])
        rows = {}
        spec = spec_for(self.model)
        for name, formset in formsets.items():
            child_model = spec.children[name].model
            rows[name] = [child_model(**{k: v for k, v in f.cleaned_data.items() if k not in ("row_id", "DELETE")})
                          for f in formset.kept_forms() if not f.errors]  # a row still being typed is left out
        return with_rows(instance, rows)

    def page(self, request, record, projects, form, formsets, status=200):
        title = f"Change {record.human_id}" if record is not None else f"{self.verb} {self.what}"
        derived = self.derived(self.unsaved(record, projects, form, formsets)) if self.derived_template else {}
        return render(request, self.template_name, {
            "title": title, "section": self.section, "record": record, "form": form,
            "formsets": list(formsets.values()), "derived_template": self.derived_template, "derived": derived,
            "cancel_url": self.success_url(record) if record is not None else None,
        }, status=status)

    def get(self, request, label: str | None = None):
        record = self.stored(request.user, label) if label else None
        projects = self.projects_for(request, record)
        form, formsets = self.build(request, record, projects)
        return self.page(request, record, projects, form, formsets)

    def post(self, request, label: str | None = None):
        record = self.stored(request.user, label) if label else None
        projects = self.projects_for(request, record)
        form, formsets = self.build(request, record, projects, data=request.POST)
        valid = form.is_valid()
        valid = all([fs.is_valid() for fs in formsets.values()]) and valid
        if request.POST.get("preview"):
            if not self.derived_template:
                return HttpResponse("")  # this form shows no numbers as you type
            return render(request, self.derived_template, {
                "derived": self.derived(self.unsaved(record, projects, form, formsets)), "preview": True})
        if valid:
            fields = {name: value for name, value in form.cleaned_data.items() if name in self.fields}
            for name, formset in formsets.items():
                fields[name] = formset.rows()
            try:
                if record is None:
                    project = form.cleaned_data.get("project") or projects[0]
                    saved = self.create(request.user, project, **fields)
                else:
                    saved = self.update(request.user, record, **fields)
            except ValidationError as refusal:
                show_refusal(refusal, form, formsets)
            else:
                done = "changed" if record is not None else "recorded"
                messages.success(request, f"{saved.human_id} {done}.")
                return HttpResponseRedirect(self.success_url(saved))
        return self.page(request, record, projects, form, formsets)


def _initial_value(instance, name):
    field = instance._meta.get_field(name)
    if field.is_relation:
        return getattr(instance, field.attname)
    return getattr(instance, name)


def _widget_for(field):
    """Inputs the browser helps with: dates, numbers with any decimals, short notes."""
    from django.db import models

    if isinstance(field, models.DateTimeField):
        return forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    if isinstance(field, models.DateField):
        return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    if isinstance(field, models.TextField):
        return forms.Textarea(attrs={"rows": 3})
    if isinstance(field, models.BooleanField) and field.null:
        widget = forms.NullBooleanSelect()
        widget.choices = [("unknown", "—"), ("true", "yes"), ("false", "no")]  # "—": not known, not decided
        return widget
    return None


