"""The samples' pages: precursor lots (list and page) and their dashboard panels.

The reads are the small functions at the top (``lots_for_list``, ``lot_for_page``, ...): the
only place these pages touch the database, each with a fixed number of queries whatever the
number of rows.
"""
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.db.models import F, QuerySet
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from eln.pages import Panel, RecordListView, in_project, record_url
from eln.permissions import can_write, visible_records
from samples import filtersets
from samples.api.views import PrecursorLotViewSet
from samples.models import Material, PrecursorLot, StockMovement
from samples.tables import lot_table

# What a label's prefix names, for the records a lot went into.
RECORD_KINDS = {"EB": "electrolyte batch", "IS": "infiltration solution", "ES": "electrode sheet",
                "AL": "alloy batch"}


# -- reads ----------------------------------------------------------------------------------------

def lots_for_list(user, project) -> QuerySet:
    lots = PrecursorLot.objects.select_related("material")
    return filtersets.with_remaining_stock(in_project(visible_records(user, lots), project))


def lot_for_page(user, label: str) -> PrecursorLot:
    lots = PrecursorLot.objects.select_related("material", "project", "created_by", "modified_by")
    return get_object_or_404(filtersets.with_remaining_stock(visible_records(user, lots)), human_id=label)


def lot_ledger(lot) -> list[StockMovement]:
    return list(lot.movements.select_related("created_by").order_by("created_at", "id"))


def low_stock_lots(user, project, limit: int) -> tuple[list[PrecursorLot], int]:
    lots = lots_for_list(user, project).filter(remaining_stock_mg__lt=F("low_stock_threshold_mg"))
    return list(lots.order_by("remaining_stock_mg", "pk")[:limit]), lots.count()


def material_names() -> list[str]:
    return list(Material.objects.order_by("name").values_list("name", flat=True))


# -- pages ----------------------------------------------------------------------------------------

class LotListView(RecordListView):
    title = "Precursor lots"
    section = "lots"
    table = lot_table
    filterset_class = filtersets.PrecursorLotFilterSet
    search_fields = tuple(PrecursorLotViewSet.search_fields)
    search_placeholder = "label, lot number, supplier, material or notes"
    filter_fields = ("material", "material_kind", "supplier", "state", "storage_place", "low_stock")
    filter_labels = {"material": "Material", "material_kind": "Kind of material", "low_stock": "Below its low-stock mark"}

    def rows(self, user, project):
        return lots_for_list(user, project)

    def suggestions(self, user, project):
        return {"material": material_names()}

    def writer_actions(self, request):
        actions = [("New lot in the API form", reverse("precursorlot-list"))]
        if request.user.is_staff:
            actions.append(("Lots in the admin", reverse("admin:samples_precursorlot_changelist")))
        return actions


@dataclass
class LedgerLine:
    movement: StockMovement
    remaining_mg: float  # what was left after this line

    @property
    def used_for_url(self):
        return record_url(self.movement.used_for)


def lineage_of_lot(lot, ledger) -> dict:
    """The lot and the records that took from it, as the lineage graph draws them."""
    nodes = [{"id": lot.human_id, "label": f"{lot.human_id} {lot.material.name}", "kind": "precursor lot",
              "current": True}]
    edges, seen = [], set()
    for movement in ledger:
        label = movement.used_for
        if not label or label in seen:
            continue
        seen.add(label)
        kind = RECORD_KINDS.get(label.split("-")[0], "record")
        nodes.append({"id": label, "label": f"{label} ({kind})", "kind": kind, "url": record_url(label)})
        edges.append({"source": lot.human_id, "target": label})
    return {"nodes": nodes, "edges": edges}


@login_required
def lot_detail(request, label: str):
    lot = lot_for_page(request.user, label)
    ledger = lot_ledger(lot)
    remaining, lines = lot.quantity_received_mg, []
    for movement in ledger:
        remaining -= movement.mass_mg
        lines.append(LedgerLine(movement, remaining))
    edit_controls = []
    if can_write(request.user, lot.project):
        edit_controls.append(("Edit in the API form", reverse("precursorlot-detail", args=[lot.human_id])))
        if request.user.is_staff:
            edit_controls.append(("Edit in the admin", reverse("admin:samples_precursorlot_change", args=[lot.pk])))
    return render(request, "samples/lot_detail.html", {
        "title": lot.human_id,
        "section": "lots",
        "lot": lot,
        "treatments": list(lot.treatments.all()),
        "ledger": lines,
        "lineage": lineage_of_lot(lot, ledger),
        "edit_controls": edit_controls,
    })


# -- dashboard panels -----------------------------------------------------------------------------

def low_stock_panel(user, project) -> Panel:
    lots, count = low_stock_lots(user, project, limit=8)
    return Panel("Low stock", "samples/_panel_low_stock.html", {"lots": lots, "count": count},
                 link=(f"All {count} lots below their mark", f"{reverse('samples:lot-list')}?low_stock=true")
                 if count > len(lots) else None)


def recent_lots_panel(user, project) -> Panel:
    lots = list(lots_for_list(user, project).order_by("-created_at", "-pk")[:6])
    return Panel("Lots recorded last", "samples/_panel_recent_lots.html", {"lots": lots},
                 link=("All precursor lots", reverse("samples:lot-list")))

