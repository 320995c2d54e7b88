"""Announcements of the services, for results computed from records.

``records_changed`` is sent once per record a service created, changed or deleted, inside the
service's transaction, with the names of the fields that changed (``fields``) and of the child
sets whose rows changed (``children``: set name -> changed field names, "row" when rows came or
went). Receivers decide what is affected and act after the commit; records never import the
modules that compute results from them.
"""
from django.dispatch import Signal

records_changed = Signal()
