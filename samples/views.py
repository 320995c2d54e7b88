"""The samples' pages: precursor lots (list and page) and their dashboard panels.

The reads are the small functions at the top (``lots_for_list``, ``lot_for_page``, ...), on
the app's selectors, and the lineage selector wired in the settings: each makes a fixed number
of queries whatever the number of rows.
"""
from django.contrib.auth.decorators import login_required
from django.db.models import F, QuerySet
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from eln.pages import Panel, RecordListView, in_project, lineage_graph
from eln.permissions import visible_records
from eln.record_pages import admin_change_url, edit_controls, ledger_lines
from samples import filtersets, selectors
from samples.api.views import PrecursorLotViewSet
from samples.models import Material, PrecursorLot, StockMovement
from samples.tables import lot_table


# -- reads ----------------------------------------------------------------------------------------

def lots_for_list(user, project) -> QuerySet:
    lots = PrecursorLot.objects.select_related("material")
    return selectors.with_stock(in_project(visible_records(user, lots), project))


def lot_for_page(user, label: str) -> PrecursorLot:
    lots = PrecursorLot.objects.select_related("material", "project", "created_by", "modified_by")
    return get_object_or_404(selectors.with_stock(visible_records(user, lots)), human_id=label)


def lot_ledger(lot) -> list[StockMovement]:
    return list(selectors.ledger_of(lot))


def low_stock_lots(user, project, limit: int) -> tuple[list[PrecursorLot], int]:
    lots = lots_for_list(user, project).filter(remaining__lt=F("low_stock_threshold_mg"))
    return list(lots.order_by("remaining", "pk")[:limit]), lots.count()


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
        actions = [("Receive a lot", reverse("samples:lot-new"))]
        if request.user.is_staff:
            actions.append(("Lots in the admin", reverse("admin:samples_precursorlot_changelist")))
        return actions


@login_required
def lot_detail(request, label: str):
    lot = lot_for_page(request.user, label)
    lines = ledger_lines(lot, lot_ledger(lot))
    return render(request, "samples/lot_detail.html", {
        "title": lot.human_id,
        "section": "lots",
        "lot": lot,
        "treatments": list(lot.treatments.all()),
        "ledger": lines,
        "is_low": selectors.is_low(lot),
        "lineage": lineage_graph(lot),
        "edit_controls": edit_controls(request.user, lot, reverse("samples:lot-edit", args=[lot.human_id]),
                                       admin_change_url(lot)),
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

