"""Notebook entries: Markdown rendered and sanitised, record labels linked for readers who may see
the record, attachments kept through the storage API (images inline), each entry shown on the
pages of the records it mentions, its history, written through the service (page, API, admin); a
reader sees and cannot write."""
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.html import escape

from eln.notebook import services
from eln.notebook.markdown import labels_in, render
from eln.notebook.models import NotebookAttachment, NotebookEntry
from tests import factories

pytestmark = pytest.mark.django_db

# The smallest PNG (1 × 1 pixel), as a phone's photo would start.
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x9a\xa0\xa0\x00\x00\x00\x00IEND\xaeB`\x82")


def test_markdown_is_rendered_and_nothing_unsafe_survives():
    html = render("# Glovebox\n\n**dried** at 180 °C\n\n<script>alert(1)</script> <img src=x onerror=alert(1)>\n\n"
                  "[click](javascript:alert(1)) [paper](https://doi.org/10.1016/j.ensm.2019.11.027)\n\n"
                  "| T (°C) | t (h) |\n|--:|---|\n| 180 | 4 |\n\n~~wrong~~")
    assert "<h1>Glovebox</h1>" in html and "<strong>dried</strong>" in html
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html  # raw HTML is shown as text, not run
    assert 'href="javascript' not in html
    assert '<a href="https://doi.org/10.1016/j.ensm.2019.11.027" rel="noopener noreferrer">paper</a>' in html
    assert "<td>180</td>" in html and "style=" not in html  # table alignment would need a style attribute
    assert "<s>wrong</s>" in html


def test_labels_become_links_only_where_given_and_never_in_code():
    text = "Built CELL-0042 from EL-0004 and EL-0004; `CELL-0042` in code; see [the lot](/lots/LOT-0001/) LOT-0001."
    assert labels_in(text) == ["CELL-0042", "EL-0004", "LOT-0001"]
    html = render(text, links={"CELL-0042": "/cells/CELL-0042/", "LOT-0001": "/lots/LOT-0001/"})
    assert html.count('class="record-link"') == 2
    assert '<a href="/cells/CELL-0042/" class="record-link" rel="noopener noreferrer">CELL-0042</a> from EL-0004' in html
    assert "<code>CELL-0042</code>" in html
    assert labels_in("CELL-0042a is not a label, nor aCELL-0042, nor cell-0042") == []


def test_attachments_are_put_in_place_and_images_from_elsewhere_become_links():
    html = render("![the pellet](attachment:pellet.png) ![far](https://example.org/x.png) ![gone](attachment:no.png) "
                  "[data](attachment:eis.mpt)",
                  attachments={"pellet.png": "/notebook/NB-0001/attachments/1/pellet.png",
                               "eis.mpt": "/notebook/NB-0001/attachments/2/eis.mpt"})
    assert '<img src="/notebook/NB-0001/attachments/1/pellet.png" alt="the pellet">' in html
    assert '<a href="https://example.org/x.png" class="outside-image" rel="noopener noreferrer">far</a>' in html
    assert "<img" not in html.replace('<img src="/notebook/NB-0001/attachments/1/pellet.png"', "")
    assert "[no.png: no such attachment]" in html
    assert '<a href="/notebook/NB-0001/attachments/2/eis.mpt"' in html


@pytest.fixture
def cell(lab):
    return lab.half_cell(name="NaCrO2 half cell at 70 MPa")


def test_a_writer_writes_an_entry_mentioning_a_cell_with_a_photo_and_it_shows_on_the_cells_page(
        logged_in, people, project, cell):
    client = logged_in(people["writer"])
    form = client.get(f"/notebook/new/?mention={cell.human_id}").content.decode()
    assert f"{cell.human_id} </textarea>" in form
    response = client.post("/notebook/new/", {
        "project": project.pk, "title": "Pressed and put on the cycler",
        "body": f"{cell.human_id} pressed at 350 MPa.\n\n![the stack](attachment:stack.png)\n\nSee also LOT-9999.",
        "attachments": [SimpleUploadedFile("stack.png", PNG), SimpleUploadedFile("press-log.txt", b"350 MPa 5 min\n")]})
    entry = NotebookEntry.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/notebook/{entry.human_id}/"
    assert entry.created_by == people["writer"] and entry.project == project
    assert list(entry.mentions.values_list("label", flat=True)) == [cell.human_id]  # LOT-9999 does not exist
    photo, log = entry.attachments.order_by("original_name").reverse()
    assert (photo.original_name, photo.is_image, photo.content_type, photo.size_bytes) == (
        "stack.png", True, "image/png", len(PNG))
    assert (log.is_image, log.content_type) == (False, "application/octet-stream")
    assert photo.file.storage.exists(photo.file.name) and photo.file.name.startswith(f"notebook/{entry.human_id}/")

    page = client.get(f"/cells/{cell.human_id}/").content.decode()
    section = page.split('id="notebook-heading"')[1].split("</section>")[0]
    assert entry.human_id in section and "Pressed and put on the cycler" in section
    assert f'<a href="/cells/{cell.human_id}/" class="record-link" rel="noopener noreferrer">{cell.human_id}</a>' in section
    image = re.search(r'<img src="([^"]+)" alt="the stack">', section)[1]
    assert image == f"/notebook/{entry.human_id}/attachments/{photo.pk}/stack.png"
    served = client.get(image)
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert b"".join(served.streaming_content) == PNG and "attachment" not in served.get("Content-Disposition", "")
    download = client.get(f"/notebook/{entry.human_id}/attachments/{log.pk}/press-log.txt")
    assert download["Content-Disposition"].startswith("attachment") and "sandbox" in download["Content-Security-Policy"]
    assert "press-log.txt" in section and "LOT-9999" in section and 'href="/lots/LOT-9999/"' not in section


def test_a_label_links_only_for_readers_who_may_see_that_record(logged_in, people, project, cell):
    other = factories.ProjectFactory(name="Sulfide cells", manager=people["outsider"])
    factories.member(other, people["writer"])
    secret = factories.CellFactory(project=other)
    entry = services.notebook_entry_write(user=people["writer"], project=project, title="comparison",
                                          body=f"{cell.human_id} against {secret.human_id}")
    assert list(entry.mentions.values_list("label", flat=True)) == [cell.human_id, secret.human_id]
    as_writer = logged_in(people["writer"]).get(f"/notebook/{entry.human_id}/").content.decode()
    assert f'href="/cells/{secret.human_id}/"' in as_writer
    as_reader = logged_in(people["reader"]).get(f"/notebook/{entry.human_id}/").content.decode()
    assert f'href="/cells/{cell.human_id}/"' in as_reader and f'href="/cells/{secret.human_id}/"' not in as_reader
    assert f"{secret.human_id} <span class=\"explain\">(not in your projects)</span>" in as_reader
    # and a member of the other project alone does not see the entry at all
    assert logged_in(people["outsider"]).get(f"/notebook/{entry.human_id}/").status_code == 404
    assert entry.human_id not in logged_in(people["outsider"]).get(f"/cells/{secret.human_id}/").content.decode()


def test_a_label_links_to_its_records_page_or_for_a_kind_without_one_to_its_api_page(logged_in, people, project, cell,
                                                                                        settings):
    electrode = cell.electrode_in_role("positive").electrode
    entry = services.notebook_entry_write(user=people["writer"], project=project, title="punched",
                                          body=f"{electrode.human_id} punched from {electrode.sheet.human_id}")
    client = logged_in(people["reader"])
    html = client.get(f"/notebook/{entry.human_id}/").content.decode()
    assert f'href="/electrodes/{electrode.human_id}/"' in html
    assert f'href="/electrode-sheets/{electrode.sheet.human_id}/"' in html
    settings.ELN_RECORD_PAGES = {k: v for k, v in settings.ELN_RECORD_PAGES.items() if k != "EL"}
    html = client.get(f"/notebook/{entry.human_id}/").content.decode()
    assert f'href="/api/v1/electrodes/{electrode.human_id}/"' in html


def test_changes_are_kept_in_the_entrys_history(logged_in, people, project, cell):
    client = logged_in(people["writer"])
    entry = services.notebook_entry_write(user=people["writer"], project=project, title="first", body="nothing yet")
    page = client.get(f"/notebook/{entry.human_id}/edit/").content.decode()
    assert "nothing yet</textarea>" in page
    client.post(f"/notebook/{entry.human_id}/edit/", {"title": "first cycles", "body": f"{cell.human_id} at 95.2 %",
                                                      "attachments": [SimpleUploadedFile("curve.png", PNG)]})
    entry.refresh_from_db()
    assert entry.title == "first cycles" and list(entry.mentions.values_list("label", flat=True)) == [cell.human_id]
    curve = entry.attachments.get()
    client.post(f"/notebook/{entry.human_id}/edit/", {"title": "first cycles", "body": entry.body,
                                                      "remove": [curve.pk]})
    assert entry.attachments.count() == 0
    html = client.get(f"/notebook/{entry.human_id}/").content.decode()
    history = html.split('id="history-heading"')[1].split("</section>")[0]
    whats = re.findall(r'<span class="what">([^<]+)</span>', history)
    assert whats == ["removed curve.png", "changed title, body", "attached curve.png", "written"] or \
        whats == ["removed curve.png", "attached curve.png", "changed title, body", "written"]
    assert "nothing yet" in history and history.count('<span class="who">wei</span>') == 4
    assert [v.history_user for v in entry.history.all()] == [people["writer"]] * 2


def test_a_reader_sees_entries_but_cannot_write_them(logged_in, people, project, cell):
    entry = services.notebook_entry_write(user=people["writer"], project=project, title="t", body=cell.human_id)
    client = logged_in(people["reader"])
    for path in ("/notebook/", f"/notebook/{entry.human_id}/", f"/cells/{cell.human_id}/"):
        html = client.get(path).content.decode()
        assert entry.human_id in html
        assert "New entry" not in html and "Change</a>" not in html and "Write an entry about" not in html
    assert client.get("/notebook/new/").status_code == 403
    assert client.post("/notebook/new/", {"project": project.pk, "title": "x"}).status_code == 403
    assert client.post(f"/notebook/{entry.human_id}/edit/", {"title": "x"}).status_code == 403
    entry.refresh_from_db()
    assert entry.title == "t" and NotebookEntry.objects.count() == 1


def test_a_refused_attachment_names_the_file_and_keeps_what_was_typed(logged_in, people, project, settings):
    settings.ELN_NOTEBOOK_ATTACHMENT_MAX_BYTES = 100
    client = logged_in(people["writer"])
    html = client.post("/notebook/new/", {"project": project.pk, "title": "EIS of the pellet", "body": "R = 127 Ω",
                                          "attachments": [SimpleUploadedFile("eis.mpt", b"x" * 101)]}).content.decode()
    assert "eis.mpt is 101 bytes; an attachment may have at most 100 bytes." in html
    assert 'value="EIS of the pellet"' in html and "R = 127 Ω</textarea>" in html
    assert NotebookEntry.objects.count() == 0 and NotebookAttachment.objects.count() == 0
    entry = services.notebook_entry_write(user=people["writer"], project=project, title="t",
                                          attachments=[SimpleUploadedFile("a.txt", b"1")])
    with pytest.raises(Exception, match="already has an attachment named a.txt"):
        services.notebook_attachment_add(user=people["writer"], entry=entry, uploaded=SimpleUploadedFile("a.txt", b"2"))


def test_the_notebook_is_searched_by_text_and_by_the_records_mentioned(logged_in, people, project, cell):
    services.notebook_entry_write(user=people["writer"], project=project, title="pressing", body=f"{cell.human_id} ok")
    services.notebook_entry_write(user=people["writer"], project=project, title="drying", body="Na2B10H10 at 180 °C")
    client = logged_in(people["reader"])

    def titles(query):
        return re.findall(r'</a> ([^<]+)</h3>', client.get(f"/notebook/{query}").content.decode())

    assert titles("") == ["drying", "pressing"]
    assert titles(f"?search={cell.human_id}") == ["pressing"]
    assert titles("?search=180") == ["drying"]
    dashboard = client.get("/").content.decode()
    assert "Notebook entries written last" in dashboard and "drying" in dashboard


def test_the_api_writes_reads_and_attaches(api, people, project, cell):
    writer = api(people["writer"])
    created = writer.post("/api/v1/notebook-entries/", {
        "project": project.name, "title": "put on the cycler", "body": f"**{cell.human_id}** on VMP3 channel 1"},
        format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    label = body["id"]
    assert body["mentions"] == [cell.human_id] and body["created_by"] == "wei"
    assert (f'<strong><a href="/cells/{cell.human_id}/" class="record-link" rel="noopener noreferrer">'
            f'{cell.human_id}</a></strong>') in body["body_html"]
    attached = writer.post(f"/api/v1/notebook-entries/{label}/attachments/",
                           {"file": SimpleUploadedFile("cycler.png", PNG)}, format="multipart")
    assert attached.status_code == 201 and attached.json()["is_image"] is True
    assert attached.json()["url"].endswith(f"/notebook/{label}/attachments/{attached.json()['id']}/cycler.png")
    changed = writer.patch(f"/api/v1/notebook-entries/{label}/", {"body": "moved to channel 2"}, format="json")
    assert changed.status_code == 200 and changed.json()["mentions"] == []
    history = writer.get(f"/api/v1/notebook-entries/{label}/history/").json()["history"]
    assert [h["what"] for h in history] == ["changed body", "attached cycler.png", "written"]
    assert api(people["reader"]).get(f"/api/v1/notebook-entries/?mentions={cell.human_id}").json()["count"] == 0
    assert api(people["reader"]).get("/api/v1/notebook-entries/?search=channel").json()["count"] == 1

    reader = api(people["reader"])
    assert reader.patch(f"/api/v1/notebook-entries/{label}/", {"title": "x"}, format="json").status_code == 403
    assert reader.post(f"/api/v1/notebook-entries/{label}/attachments/",
                       {"file": SimpleUploadedFile("x.txt", b"x")}, format="multipart").status_code == 403
    assert reader.post("/api/v1/notebook-entries/", {"project": project.name, "title": "x"},
                       format="json").status_code == 403
    removed = writer.delete(f"/api/v1/notebook-entries/{label}/attachments/?id={attached.json()['id']}")
    assert removed.status_code == 204 and NotebookAttachment.objects.count() == 0


def test_the_admin_writes_entries_through_the_service(client, manager, project, cell):
    client.force_login(manager)
    response = client.post("/admin/eln/notebookentry/add/", {
        "project": project.pk, "title": "from the admin", "body": f"{cell.human_id} checked", "notes": ""})
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = NotebookEntry.objects.get()
    assert list(entry.mentions.values_list("label", flat=True)) == [cell.human_id]
    assert entry.created_by == manager
    response = client.post(f"/admin/eln/notebookentry/{entry.pk}/change/", {"title": "from the admin",
                                                                             "body": "nothing", "notes": ""})
    assert response.status_code == 302
    assert entry.mentions.count() == 0


def test_the_escaping_of_a_title(logged_in, people, project):
    entry = services.notebook_entry_write(user=people["writer"], project=project, title="<b>bold</b> & co")
    html = logged_in(people["reader"]).get(f"/notebook/{entry.human_id}/").content.decode()
    assert escape("<b>bold</b> & co") in html and "<b>bold</b>" not in html
