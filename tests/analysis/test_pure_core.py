"""The science stays a pure core: no module of it may pull in Django or Celery."""
import pathlib
import subprocess
import sys

ANALYSIS = pathlib.Path(__file__).resolve().parents[2] / "analysis"
# The Django side of the analysis app: stored results, tasks and their orchestration.
DJANGO_SIDE = {"models", "admin", "apps", "tasks", "services", "signals", "views", "urls", "api", "migrations",
               "demo_data"}


def pure_modules():
    for path in sorted(ANALYSIS.rglob("*.py")):
        parts = path.relative_to(ANALYSIS.parent).with_suffix("").parts
        if parts[1] in DJANGO_SIDE or parts[-1] == "__init__" and len(parts) == 1:
            continue
        yield ".".join(p for p in parts if p != "__init__")


def test_the_pure_core_imports_neither_django_nor_celery():
    modules = list(pure_modules())
    assert "analysis.process" in modules and "analysis.readers.registry" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'celery', 'rest_framework'})))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ANALYSIS.parent, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
