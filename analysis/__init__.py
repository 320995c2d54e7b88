"""What is computed.

``analysis.core`` is the pure core (no Django, no Celery, nothing of the project outside it).
Around it, the Django side: stored results (models), ingestion and recomputation (services),
Celery entry points (tasks), the API of datasets and results, and the demo lab, which may
know every app.
"""
