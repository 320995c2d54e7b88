"""What a browser would send for a page's form: every field with the value the page gave it."""
from html.parser import HTMLParser


class _FormReader(HTMLParser):
    def __init__(self, form_id):
        super().__init__()
        self.form_id, self.inside, self.in_template = form_id, False, 0
        self.data, self.options = {}, {}
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        if tag == "template":
            self.in_template += 1
        if self.in_template:
            return  # a row template is not part of the form
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.data[name] = attrs.get("value", "on")
            elif kind not in ("submit", "button"):
                self.data[name] = attrs.get("value", "")
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, "")
            self.options[name] = []
        elif tag == "option" and self._select:
            value = attrs.get("value", "")
            self.options[self._select].append(value)
            if "selected" in attrs:
                self.data[self._select] = value
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data.lstrip("\n") if not self.data[self._textarea] else data

    def handle_endtag(self, tag):
        if tag == "template" and self.in_template:
            self.in_template -= 1
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form" and self.inside:
            self.inside = False


def form_data(html: str, form_id: str = "record-form") -> dict:
    """The fields of the form ``form_id`` as a browser would post them unchanged."""
    reader = _FormReader(form_id)
    reader.feed(html)
    return reader.data


def options(html: str, name: str, form_id: str = "record-form") -> list[str]:
    reader = _FormReader(form_id)
    reader.feed(html)
    return reader.options[name]
