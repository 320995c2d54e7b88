"""Posting the admin's pages as a lab manager's browser would."""
from django.urls import reverse


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def page_form_data(response) -> dict:
    """What a change page's form and inlines would post back unchanged (extra rows left out)."""
    data = {}

    def add(form):
        for name, field in form.fields.items():
            if field.disabled:
                continue
            value = form[name].value()
            if value is None or value is False:
                continue
            data[form.add_prefix(name)] = "on" if value is True else value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        data[management.add_prefix("TOTAL_FORMS")] = len(formset.initial_forms)
        for form in formset.initial_forms:
            add(form)
    return data


def add_form_data(browser, model, fields: dict, rows: dict[str, list[dict]] | None = None) -> dict:
    """An add page's form filled with ``fields`` and the inlines' rows (by inline prefix); the
    other inlines posted empty."""
    response = browser.get(admin_url(model, "add"))
    data = {name: _value(value) for name, value in fields.items()}
    rows = rows or {}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        prefix = formset.prefix
        given = rows.get(prefix, [])
        data.update({f"{prefix}-TOTAL_FORMS": len(given), f"{prefix}-INITIAL_FORMS": 0,
                     f"{prefix}-MIN_NUM_FORMS": 0, f"{prefix}-MAX_NUM_FORMS": 1000})
        for index, row in enumerate(given):
            data.update({f"{prefix}-{index}-{name}": _value(value) for name, value in row.items()})
    return data


def _value(value):
    if hasattr(value, "pk"):
        return value.pk
    if value is None:
        return ""
    return value


def errors_on_page(response) -> str:
    return response.content.decode()
