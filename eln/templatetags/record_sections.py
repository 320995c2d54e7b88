"""{% record_sections record %}: the sections other apps add to a record's page (eln.record_sections)."""
from django import template
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from eln.record_sections import sections_for

register = template.Library()


@register.simple_tag(takes_context=True)
def record_sections(context, record):
    request = context["request"]
    parts = [render_to_string("eln/_record_section.html", {"section": section, "data": section.context,
                                                            "record": record}, request=request)
             for section in sections_for(request, record)]
    return mark_safe("".join(parts))  # noqa: S308 - each part is a rendered (escaped) template
