"""Template filters of the pages: numbers as the lab writes them, and labels as links."""
from django import template
from django.utils.html import format_html

from eln import formatting
from eln.pages import record_url

register = template.Library()


@register.filter
def fixed(value, decimals_and_unit: str):
    """{{ mass|fixed:"1 mg" }} -> 4466.3 mg"""
    decimals, _, unit = str(decimals_and_unit).partition(" ")
    return formatting.fixed(value, int(decimals), unit)


@register.filter
def significant(value, digits_and_unit: str):
    """{{ current|significant:"3 mA" }} -> 0.950 mA"""
    digits, _, unit = str(digits_and_unit).partition(" ")
    return formatting.significant(value, int(digits), unit)


@register.filter
def percent(fraction, decimals=1):
    """{{ porosity|percent }} -> 80.1 %"""
    return formatting.percent(fraction, int(decimals))


@register.filter
def entered(value, unit: str = ""):
    """{{ step.duration_h|entered:"h" }} -> 6 h (as the person typed it)"""
    return formatting.as_entered(value, unit)


@register.filter
def or_dash(value):
    return formatting.NO_VALUE if value is None or value == "" else value


@register.filter
def record_link(label):
    """A record's label as a link to its page, or as text when its kind has no page yet."""
    if not label:
        return formatting.NO_VALUE
    url = record_url(str(label))
    return format_html('<a href="{}">{}</a>', url, label) if url else label
