"""The notebook's forms: an entry's text and its files."""
from django import forms

from eln.notebook.models import NotebookEntry
from eln.permissions import writable_projects


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, (list, tuple)) else ([data] if data else [])
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class EntryForm(forms.Form):
    project = forms.ModelChoiceField(queryset=None, empty_label=None)
    title = forms.CharField(max_length=NotebookEntry._meta.get_field("title").max_length)
    body = forms.CharField(label="Text", required=False, widget=forms.Textarea(attrs={"rows": 14}),
                           help_text="Markdown. A label such as CELL-0042 becomes a link to that record; "
                                     "![photo](attachment:photo.jpg) shows an attached image in the text.")
    attachments = MultipleFileField(label="Attach files", help_text="Images (PNG, JPEG, GIF, WebP) are shown; "
                                                                    "other files are offered for download.")

    def __init__(self, *args, user, entry=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
        if entry is None:
            self.fields["project"].queryset = writable_projects(user).distinct()
        else:
            del self.fields["project"]
            self.fields["remove"] = forms.ModelMultipleChoiceField(
                queryset=entry.attachments.all(), required=False, widget=forms.CheckboxSelectMultiple,
                label="Remove attachments")
