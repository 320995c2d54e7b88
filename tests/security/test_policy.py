"""The pages' content security policy, and the admin only for staff."""
from django.conf import settings

from tests import factories as f

STRICT = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
          "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def test_every_answer_carries_the_policy_without_inline_scripts(client, api, people, project):
    assert settings.ELN_CONTENT_SECURITY_POLICY == STRICT
    client.force_login(people["writer"])
    for path in ("/login/", "/", "/lots/", "/notebook/", "/api/v1/docs/", "/api/v1/lots/"):
        assert client.get(path)["Content-Security-Policy"] == STRICT, path
    # the Swagger page's start script is a file of its own, not inline
    page = client.get("/api/v1/docs/").content.decode()
    assert "<script>" not in page and "<style>" not in page and 'src="/api/v1/docs/?script="' in page
    assert client.get("/api/v1/docs/?script=")["Content-Type"].startswith("application/javascript")
    # Redoc writes its styles as it draws: its page alone allows inline styles, never scripts
    redoc = client.get("/api/v1/redoc/")
    assert "script-src 'self';" in redoc["Content-Security-Policy"] and "fonts.googleapis" not in redoc.content.decode()


def test_a_notebook_attachment_keeps_its_stricter_sandbox(client, people, project):
    attached = f.NotebookAttachmentFactory(entry=f.NotebookEntryFactory(project=project), name="balance.html",
                                           content=b"<script>alert(1)</script>")
    client.force_login(people["writer"])
    served = client.get(f"/notebook/{attached.entry.human_id}/attachments/{attached.pk}/balance.html")
    assert served.status_code == 200 and served["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_the_admin_is_for_staff_a_member_is_sent_to_the_researchers_pages(client, people, project):
    client.force_login(people["writer"])
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert "The admin is for lab managers (staff); your records are in these pages." in response.content.decode()
    assert client.get("/admin/samples/precursorlot/").status_code == 302
    client.force_login(people["lab_manager"])
    assert client.get("/admin/").status_code == 200


def test_the_admin_has_no_login_of_its_own(client, people):
    """Logging in for the admin is the site's page, with its lockout."""
    response = client.get("/admin/samples/precursorlot/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    response = client.get(response["Location"])
    assert response.status_code == 302 and response["Location"] == "/login/?next=/admin/samples/precursorlot/"
    assert client.post("/admin/login/", {"username": "lena", "password": "pw-lena"}).status_code == 302
    assert "_auth_user_id" not in client.session
