"""Watching running tests: each project's rules (``AlertRules``), the alerts they raise after an
ingestion or when a running test goes silent, and their acknowledgement by a person. The rules
themselves are the pure core's (``analysis.core.alerts``)."""
