"""Where each kind of code lives, checked on the source: stock is computed in one selector and
written in one service; no entry point writes records around the services."""
import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[1]
APPS = ("eln", "samples", "cells", "analysis")


def sources():
    for app in APPS:
        for path in (REPO / app).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path.relative_to(REPO).as_posix(), path.read_text()


def where(pattern: str) -> set[str]:
    return {name for name, text in sources() if re.search(pattern, text)}


def test_remaining_stock_is_computed_in_one_selector():
    assert where(r"Sum\(\s*[\"']quantity[\"']") == {"samples/selectors.py"}
    assert where(r"movements__quantity") == set()


def test_ledger_lines_are_written_in_one_service():
    assert where(r"(?<!class )StockMovement\(|StockMovement\.objects\.(create|bulk_create|update|get_or_create)"
                 r"|movements\.create") == {"samples/services.py"}


def test_lab_records_are_created_only_by_the_services():
    # The ORM's create() on the lab's records appears only where the engine or ingestion writes.
    models = r"(PrecursorLot|ElectrolyteBatch|InfiltrationSolution|ElectrodeSheet|Electrode|InfiltrationRun|AlloyBatch" \
             r"|Protocol|Cell|CellPart|CyclingRun|Cycler|Channel|Material|Project|ProjectMembership)"
    assert where(rf"\b{models}\.objects\.(create|get_or_create|bulk_create|update_or_create)\(") == set()
