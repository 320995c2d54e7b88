"""The base of the researchers' pages: the project a member is looking at, list pages that
share their filter sets with the API, links from record labels to their pages, and the
dashboard's panels. Apps build their pages on these; the URL configuration wires them."""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from functools import reduce
from typing import Any, Callable

from django import forms
from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_vary_headers
from django.utils.module_loading import import_string
from django.views import View

from eln.api.views import LabRecordViewSet
from eln.export import FORMATS, export_response
from eln.models import Project
from eln.permissions import visible_projects, writable_projects
from eln.tables import Table

CURRENT_PROJECT_KEY = "eln_current_project"
LABEL = re.compile(r"^(?P<prefix>[A-Z]+)-\d+$")


# -- the project a member is looking at ------------------------------------------------------

def current_project(request) -> Project | None:
    """The project chosen in the switcher, if the user still sees it; None means all projects."""
    if not hasattr(request, "_eln_current_project"):
        project_id = request.session.get(CURRENT_PROJECT_KEY)
        project = None
        if project_id is not None:
            project = visible_projects(request.user).filter(pk=project_id).first()
        request._eln_current_project = project
    return request._eln_current_project


def in_project(queryset: QuerySet, project: Project | None, path: str = "project") -> QuerySet:
    return queryset.filter(**{path: project}) if project is not None else queryset


def is_partial(request) -> bool:
    """An htmx request for a part of the page (not htmx restoring a whole page from history)."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")


# -- links from labels (CELL-0042) to the record's page ----------------------------------------

def record_url(label: str | None) -> str | None:
    """The page of the record with this label, when its kind has pages (ELN_RECORD_PAGES)."""
    match = LABEL.match(label or "")
    url_name = settings.ELN_RECORD_PAGES.get(match["prefix"]) if match else None
    if url_name is None:
        return None
    try:
        return reverse(url_name, args=[label])
    except NoReverseMatch:
        return None


# -- lineage -----------------------------------------------------------------------------------

@dataclass
class LineageRow:
    source: str
    source_url: str | None
    relation: str
    target: str
    target_url: str | None


@dataclass
class LineagePage:
    """A record's lineage as the pages show it: a graph (nodes and edges for lineage.js) and
    the same edges as lists, upstream (what it was made from) and downstream."""

    graph: dict
    upstream: list[LineageRow]
    downstream: list[LineageRow]


def _describe(record) -> str:
    name = getattr(record, "name", "")  # a field of the record itself: no query
    return name or record._meta.verbose_name


def lineage_graph(record) -> LineagePage:
    """The lineage of ``record`` from the selector in ELN_LINEAGE (it reaches every app, so it
    is wired in the settings, not imported), shaped for the page."""
    lineage = import_string(settings.ELN_LINEAGE)(record)
    nodes = {}

    def add(node):
        if node.human_id not in nodes:
            nodes[node.human_id] = {
                "id": node.human_id, "label": f"{node.human_id} {_describe(node)}",
                "kind": str(node._meta.verbose_name), "url": record_url(node.human_id),
                "current": type(node) is type(lineage.record) and node.pk == lineage.record.pk,
            }

    def rows(edges):
        return [LineageRow(e.source.human_id, record_url(e.source.human_id), e.relation,
                           e.target.human_id, record_url(e.target.human_id)) for e in edges]

    add(lineage.record)
    edges = []
    for edge in lineage.upstream + lineage.downstream:
        add(edge.source)
        add(edge.target)
        edges.append({"source": edge.source.human_id, "target": edge.target.human_id, "relation": edge.relation})
    return LineagePage({"nodes": list(nodes.values()), "edges": edges},
                       rows(lineage.upstream), rows(lineage.downstream))


# -- search as the API does it ------------------------------------------------------------------

def search(queryset: QuerySet, fields, text: str) -> QuerySet:
    """Rows where every word of ``text`` is in one of ``fields`` (as the API's ?search=).

    Filtered through the primary key so that matches across to-many relations neither repeat
    rows nor multiply the aggregates annotated on the queryset.
    """
    words = [w for w in re.split(r"[\s,]+", text or "") if w]
    if not words or not fields:
        return queryset
    matches = queryset.model._default_manager.all()
    for word in words:
        matches = matches.filter(reduce(operator.or_, (Q(**{f"{f}__icontains": word}) for f in fields)))
    return queryset.filter(pk__in=matches.values("pk"))


# -- list pages ---------------------------------------------------------------------------------

class RecordListView(LoginRequiredMixin, View):
    """A list of records: search, the app's filter set (the API's), sortable columns, pages.

    Subclasses set the table, the filter set, the fields searched, the filters offered in the
    form, and ``rows(user, project)``: the read of the records, before filters.
    """

    title = ""
    section = ""  # which entry of the navigation is this page's
    table: Table
    filterset_class = None
    search_fields: tuple[str, ...] = tuple(LabRecordViewSet.search_fields)  # a lab record's, as the API's
    search_placeholder = "label, name or notes"
    filter_fields: tuple[str, ...] = ()
    filter_labels: dict[str, str] = {}
    paginate_by = 50
    template_name = "eln/record_list.html"
    table_template = "eln/_record_table.html"

    def rows(self, user, project: Project | None) -> QuerySet:
        raise NotImplementedError

    def suggestions(self, user, project: Project | None) -> dict[str, list[str]]:
        """Values offered as you type in text filters, by filter name."""
        return {}

    def writer_actions(self, request) -> list[tuple[str, str]]:
        """(text, url) of the edit controls shown to members who may write."""
        return []

    def form_for_page(self, filterset, suggestions) -> forms.Form:
        form = filterset.form
        form.label_suffix = ""
        for name, form_field in form.fields.items():
            if name in self.filter_labels:
                form_field.label = self.filter_labels[name]
            if isinstance(form_field, forms.NullBooleanField):
                form_field.widget = forms.Select(choices=[("", "any"), ("true", "yes"), ("false", "no")])
            elif hasattr(form_field, "empty_label"):  # django-filter's choice fields
                form_field.empty_label = "any"
            if name in suggestions:
                form_field.widget.attrs["list"] = f"suggest-{name}"
        return form

    def get(self, request):
        project = current_project(request)
        filterset = self.filterset_class(request.GET, queryset=self.rows(request.user, project), request=request)
        suggestions = self.suggestions(request.user, project)
        form = self.form_for_page(filterset, suggestions)
        ordering = self.table.ordering(request.GET.get("ordering"))
        text = request.GET.get("search", "").strip()
        if filterset.is_valid():
            records = self.table.order(search(filterset.qs, self.search_fields, text), ordering)
        else:  # a filter that cannot be applied shows its error, never an unfiltered list
            records = filterset.queryset.none()
        if request.GET.get("export") in FORMATS:  # every row, as filtered and sorted here
            return export_response(self.table, records, request.GET["export"], self.title)
        page = Paginator(records, self.paginate_by).get_page(request.GET.get("page"))
        params = request.GET.copy()
        params.pop("page", None)
        params.pop("export", None)
        context = {
            "title": self.title,
            "section": self.section,
            "ordering": "" if ordering == self.table.default_ordering else ordering,
            "form": form,
            "shown_filters": [form[name] for name in self.filter_fields],
            "suggestions": suggestions,
            "search": text,
            "search_placeholder": self.search_placeholder,
            "page": page,
            "headers": self.table.headers(ordering, request.GET),
            "rows": self.table.rows(page.object_list),
            "page_query": params.urlencode(),
            "writer_actions": self.writer_actions(request) if writable_projects(request.user).exists() else [],
            "table_template": self.table_template,
        }
        template = self.table_template if is_partial(request) else self.template_name
        response = TemplateResponse(request, template, context)
        patch_vary_headers(response, ["HX-Request"])
        return response


# -- the dashboard ------------------------------------------------------------------------------

@dataclass
class Panel:
    """A box on the dashboard: a title, its template and what the template shows."""

    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    link: tuple[str, str] | None = None  # (text, url) to the whole list


def dashboard_panels(request) -> list[Panel]:
    """The panels of ELN_DASHBOARD_PANELS, in order; a panel function may return None."""
    project = current_project(request)
    panels = []
    for path in settings.ELN_DASHBOARD_PANELS:
        make: Callable[..., Panel | None] = import_string(path)
        panel = make(request.user, project)
        if panel is not None:
            panels.append(panel)
    return panels
