"""What the engineer who runs the server relies on: complete migrations, a valid compose file,
and the embedded defaults."""
import io
import pathlib
import subprocess
import sys

import pytest
import yaml
from django.core.management import call_command

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.django_db
def test_migrations_are_complete():
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out)
    except SystemExit as exit_:
        pytest.fail(f"models changed without a migration:\n{out.getvalue()} (exit {exit_.code})")


def test_docker_compose_describes_the_production_shape():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "web", "worker", "beat"}
    assert "gunicorn" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "eln", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "eln", "beat"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["CELERY_BROKER_URL"].startswith("redis://")


def test_with_nothing_set_the_app_runs_embedded(tmp_path):
    """No DATABASE_URL and no broker: SQLite under the var folder and tasks in process."""
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='eln.settings'; django.setup();"
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.DATABASES['default']['NAME'])"
    )
    env = {"PATH": "/usr/bin:/bin", "ELN_VAR_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    engine, eager, name = out.stdout.split()
    assert engine == "django.db.backends.sqlite3" and eager == "True" and name.startswith(str(tmp_path))
