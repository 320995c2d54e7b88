"""What the suite takes from its environment (set by scripts/test)."""
import os

# The Celery tests' broker: a Redis database of their own.
BROKER_URL = os.environ.get("ELN_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
