"""The notebook's pages: entries listed, written, read (with their history) and changed; the
attachments served; the dashboard panel and the section on the page of each record an entry
mentions. Reads through eln.notebook.selectors, writes through eln.notebook.services."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from eln.notebook import selectors, services
from eln.notebook.forms import EntryForm
from eln.models import LabRecord
from eln.notebook.models import NotebookEntry
from eln.pages import Panel, current_project, search
from eln.permissions import can_write, writable_projects
from eln.record_sections import Section

SECTION_LIMIT = 10
SEARCHED = ("human_id", "title", "body", "mentions__label")


# -- the dashboard and the pages of the records an entry mentions ----------------------------------

def recent_entries_panel(user, project) -> Panel:
    entries = list(selectors.visible_entries(user, project).order_by("-created_at", "-pk")[:6])
    return Panel("Notebook entries written last", "eln/notebook/_panel_recent.html", {"entries": entries},
                 link=("The notebook", reverse("notebook:entry-list")))


def entries_section(request, record) -> Section | None:
    if isinstance(record, NotebookEntry) or not isinstance(record, LabRecord):
        return None
    entries = selectors.entries_mentioning(request.user, record.human_id)
    shown = selectors.shown_entries(entries[:SECTION_LIMIT], request.user)
    count = len(shown) if len(shown) < SECTION_LIMIT else entries.count()
    new_url = f"{reverse('notebook:entry-new')}?mention={record.human_id}" if can_write(
        request.user, record.project) else None
    return Section("notebook", "Notebook entries", "eln/notebook/_section_entries.html", {
        "entries": shown, "count": count, "label": record.human_id, "new_url": new_url,
        "all_url": f"{reverse('notebook:entry-list')}?search={record.human_id}",
    })


# -- pages ------------------------------------------------------------------------------------------

@login_required
def entry_list(request):
    text = request.GET.get("search", "").strip()
    entries = search(selectors.visible_entries(request.user, current_project(request)), SEARCHED, text)
    page = Paginator(entries.order_by("-created_at", "-pk"), 20).get_page(request.GET.get("page"))
    return render(request, "eln/notebook/entry_list.html", {
        "title": "Notebook", "section": "notebook", "search": text, "page": page,
        "entries": selectors.shown_entries(page.object_list, request.user),
        "may_write": writable_projects(request.user).exists(),
    })


def _entry_for(user, label) -> NotebookEntry:
    return get_object_or_404(selectors.visible_entries(user), human_id=label)


@login_required
def entry_detail(request, label: str):
    entry = _entry_for(request.user, label)
    return render(request, "eln/notebook/entry_detail.html", {
        "title": entry.human_id, "section": "notebook", "shown": selectors.shown_entries([entry], request.user)[0],
        "entry": entry, "history": selectors.entry_history(entry),
        "may_write": can_write(request.user, entry.project),
    })


def _show_refusal(form, refusal: ValidationError):
    for field, texts in (refusal.message_dict if hasattr(refusal, "error_dict") else {None: refusal.messages}).items():
        form.add_error(field if field in form.fields else None, texts)


@login_required
def entry_new(request):
    if not writable_projects(request.user).exists():
        raise PermissionDenied("You are a reader of your projects; only members with write rights write entries.")
    mention = request.GET.get("mention", "")
    initial = {"project": current_project(request), "body": f"{mention} " if mention else ""}
    form = EntryForm(request.POST or None, request.FILES or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            entry = services.notebook_entry_write(user=request.user, project=data["project"], title=data["title"],
                                                  body=data["body"], attachments=data["attachments"])
        except ValidationError as refusal:
            _show_refusal(form, refusal)
        else:
            messages.success(request, f"{entry.human_id} is written.")
            return HttpResponseRedirect(reverse("notebook:entry-detail", args=[entry.human_id]))
    return render(request, "eln/notebook/entry_form.html", {
        "title": "New notebook entry", "section": "notebook", "form": form, "entry": None})


@login_required
def entry_edit(request, label: str):
    entry = _entry_for(request.user, label)
    if not can_write(request.user, entry.project):
        raise PermissionDenied("You are a reader of this project; only members with write rights change its entries.")
    form = EntryForm(request.POST or None, request.FILES or None, user=request.user, entry=entry,
                     initial={"title": entry.title, "body": entry.body})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.notebook_entry_update(user=request.user, entry=entry, title=data["title"], body=data["body"],
                                           attachments=data["attachments"], remove_attachments=data["remove"])
        except ValidationError as refusal:
            _show_refusal(form, refusal)
        else:
            messages.success(request, f"{entry.human_id} is saved.")
            return HttpResponseRedirect(reverse("notebook:entry-detail", args=[entry.human_id]))
    return render(request, "eln/notebook/entry_form.html", {
        "title": f"Change {entry.human_id}", "section": "notebook", "form": form, "entry": entry})


@login_required
def attachment(request, label: str, pk: int, name: str):
    """An attached file from storage: an image inline, anything else as a download."""
    entry = _entry_for(request.user, label)
    attached = entry.attachments.filter(pk=pk, original_name=name).first()
    if attached is None:
        raise Http404("No such attachment.")
    try:
        handle = attached.file.open("rb")
    except FileNotFoundError:
        raise Http404(f"{attached.original_name} is gone from the file store.") from None
    response = FileResponse(handle, as_attachment=not attached.is_image, filename=attached.original_name,
                            content_type=attached.content_type)
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"  # a file is never a page
    return response
