"""The science stays a pure core: ``analysis.core`` imports neither Django nor Celery nor any
other part of the project, and it works on a machine where Django is not installed."""
import ast
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
CORE = REPO / "analysis" / "core"


def core_modules() -> list[str]:
    names = []
    for path in sorted(CORE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        names.append(".".join(p for p in parts if p != "__init__"))
    return names


# Run in a fresh interpreter in which importing Django, Celery or DRF fails, as it would where
# they are not installed.
ABSENT = """
import importlib, importlib.abc, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'django', 'celery', 'rest_framework', 'kombu'}:
            raise ModuleNotFoundError(f'No module named {name!r}', name=name)
        return None
sys.meta_path.insert(0, Absent())
for name in MODULES:
    importlib.import_module(name)
print(len(MODULES))
"""


def test_the_pure_core_imports_with_django_absent():
    modules = core_modules()
    assert "analysis.core.process" in modules and "analysis.core.readers.registry" in modules
    out = subprocess.run([sys.executable, "-c", f"MODULES = {modules!r}\n" + ABSENT], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(len(modules))


def imported_modules(path: pathlib.Path) -> set[str]:
    """Every absolute module name the file imports (relative imports resolved)."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    if path.name == "__init__.py":
        package = ".".join(path.relative_to(REPO).parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_the_core_imports_nothing_of_the_project_outside_itself():
    project = ("eln", "samples", "cells", "analysis")
    offenders = {}
    for path in CORE.rglob("*.py"):
        outside = {m for m in imported_modules(path)
                   if m.split(".")[0] in project and not m.startswith("analysis.core")}
        if outside:
            offenders[str(path.relative_to(REPO))] = sorted(outside)
    assert offenders == {}


# The direction of imports between the apps (README, Architecture): each app may import the
# ones listed for it, and every app the pure core. The project's composition root (settings, URL configuration, Celery app)
# wires every app together and is left out.
ALLOWED = {
    "eln": set(),
    "samples": {"eln"},
    "cells": {"eln", "samples"},
    "analysis": {"eln", "samples", "cells"},
}
COMPOSITION_ROOT = {"eln/settings.py", "eln/urls.py", "eln/api/urls.py", "eln/celery.py", "eln/wsgi.py",
                    "eln/asgi.py", "eln/__main__.py"}


def test_apps_import_each_other_in_one_direction_only():
    offenders = {}
    for app, allowed in ALLOWED.items():
        for path in (REPO / app).rglob("*.py"):
            relative = str(path.relative_to(REPO))
            if relative in COMPOSITION_ROOT or relative.startswith("analysis/core/"):
                continue
            apps = {m.split(".")[0] for m in imported_modules(path) if not m.startswith("analysis.core")}
            wrong = apps & set(ALLOWED) - allowed - {app}
            if wrong:
                offenders[relative] = sorted(wrong)
    assert offenders == {}
