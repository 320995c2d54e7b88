"""The demo lab: the paper's records (``lab``) and synthetic cycling files of its cells
(``cycling``), written through the same services as every other entry point.

It lives in analysis because analysis is the one app that may know every other (samples, cells
and its own results); ``manage.py load_demo_lab`` runs it.
"""
