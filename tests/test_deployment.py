"""What the engineer who runs the server relies on: complete migrations, a valid compose file,
the embedded defaults, and production settings that the deploy check passes."""
import io
import pathlib
import re
import secrets
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
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, s.DATABASES['default']['NAME'],"
        " s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)"
    )
    env = {"PATH": "/usr/bin:/bin", "ELN_VAR_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    engine, eager, name, *https = out.stdout.split()
    assert engine == "django.db.backends.sqlite3" and eager == "True" and name.startswith(str(tmp_path))
    assert https == ["False", "False", "False", "0"]  # the demo and the tests over plain http


def compose_environment() -> dict[str, str]:
    """The environment docker-compose gives the app, each ${VAR:-default} at its default and the
    secret key it demands (${VAR:?message}) set as an operator would."""
    env = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]["environment"]
    resolved = {}
    for name, value in env.items():
        value = str(value)
        if re.fullmatch(r"\$\{\w+:\?.*\}", value):
            value = secrets.token_urlsafe(50)
        resolved[name] = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)
    return resolved


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", **env})


def test_docker_compose_runs_the_production_settings_and_demands_a_secret_key():
    env = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]["environment"]
    assert env["DJANGO_PRODUCTION"] == "1"
    assert env["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?")  # compose refuses to start without it


def test_check_deploy_is_clean_with_the_production_settings(tmp_path):
    env = {**compose_environment(), "ELN_VAR_DIR": str(tmp_path)}
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    code = ("import django, os; os.environ['DJANGO_SETTINGS_MODULE']='eln.settings'; django.setup();"
            "from django.conf import settings as s;"
            "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS,"
            " s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_PROXY_SSL_HEADER, s.CACHES['default']['BACKEND'])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", **env}).stdout.split(maxsplit=5)
    assert out[:5] == ["True", "True", "True", "31536000", "True"]
    assert out[5].strip() == "('HTTP_X_FORWARDED_PROTO', 'https') django.core.cache.backends.redis.RedisCache"


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {**compose_environment(), "ELN_VAR_DIR": str(tmp_path)}
    del env["DJANGO_SECRET_KEY"]
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set: the production settings (DJANGO_PRODUCTION=1) do not start on a " \
           "built-in key" in result.stderr
    # each setting can still be turned off on its own, e.g. for a trial over plain http
    env["DJANGO_SECRET_KEY"], env["DJANGO_SECURE_SSL_REDIRECT"] = secrets.token_urlsafe(50), "0"
    result = run_manage("check", "--deploy", env=env)
    assert "security.W008" in result.stderr + result.stdout  # the deploy check says what is off
