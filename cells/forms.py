"""The cells' forms, in the lab's steps: build a cell from electrodes (its 1C current and N/P
ratio shown as you type), start a run on a channel (each block's current for the cell's 1C),
define a protocol. Each writes through its service (``cells.services``) on
``eln.forms.RecordFormView``.
"""
from __future__ import annotations

from django.db.models import Q
from django.shortcuts import get_object_or_404

from cells import selectors, services
from cells.models import Cell, Channel, CyclingRun, Protocol
from cells.record_pages import protocol_summary, run_currents
from eln.forms import RecordFormView, Rows, offer
from eln.permissions import visible_records
from samples import selectors as sample_selectors
from samples.forms import electrode_label, electrodes_for, holder_label, lot_label, lots_for
from samples.models import AlloyBatch, ElectrolyteBatch


class CellFormView(RecordFormView):
    model = Cell
    fields = ("name", "kind", "assembled_on", "separator_batch", "separator_mass_mg", "separator_pressure_mpa",
              "liquid_electrolyte", "assembly_pressure_mpa", "stack_pressure_mpa", "hardware", "temperature_c",
              "lower_cutoff_v", "upper_cutoff_v", "np_basis", "negative_capacity_for_np_mah_g",
              "positive_capacity_for_np_mah_g", "excluded_from_comparisons", "notes")
    rows = {"parts": Rows(("role", "electrode", "alloy_batch", "lot", "mass_mg", "description"),
                          "Parts by role (a cast electrode, or an alloy or metal piece with its mass)", extra=3)}
    section = "cells"
    verb, what = "Build", "a cell"
    derived_template = "cells/_cell_derived.html"

    def stored(self, user, label):
        return get_object_or_404(visible_records(user, Cell.objects.all()), human_id=label)

    def offer_choices(self, form, projects):
        batches = sample_selectors.with_stock(ElectrolyteBatch.objects.filter(project__in=projects)
                                              .select_related("product")).order_by("-created_at")
        offer(form.fields["separator_batch"], batches, holder_label)

    def offer_row_choices(self, name, formset, projects, record):
        free = Q(cell_parts__isnull=True) | Q(cell_parts__cell=record) if record is not None else Q(
            cell_parts__isnull=True)
        formset.offer("electrode", electrodes_for(projects).filter(free).distinct(), electrode_label)
        alloys = sample_selectors.with_stock(AlloyBatch.objects.filter(project__in=projects)).order_by("-created_at")
        formset.offer("alloy_batch", alloys, holder_label)
        formset.offer("lot", lots_for(projects, "metal electrode"), lot_label)

    def derived(self, record):
        numbers = selectors.cell_derived_numbers(record)
        numbers["kind"] = record.kind
        numbers["balanced"] = record.kind in Cell.BALANCED_KINDS
        numbers["np_basis"] = record.get_np_basis_display() if record.np_basis else ""
        return numbers

    def create(self, user, project, **fields):
        return services.cell_build(user=user, project=project, **fields)

    def update(self, user, record, **fields):
        return services.cell_update(user=user, cell=record, **fields)


def channel_label(channel) -> str:
    running = getattr(channel, "running", [])
    now = f" · running {', '.join(running)}" if running else " · free"
    return f"{channel}{now}"


def channels_with_their_runs(projects):
    channels = list(Channel.objects.select_related("cycler").order_by("cycler__name", "number"))
    running = {}
    for run in CyclingRun.objects.filter(state=CyclingRun.State.RUNNING, channel__isnull=False).values_list(
            "channel_id", "human_id"):
        running.setdefault(run[0], []).append(run[1])
    for channel in channels:
        channel.running = running.get(channel.pk, [])
    return channels


class RunFormView(RecordFormView):
    model = CyclingRun
    fields = ("cell", "channel", "protocol", "state", "started_at", "finished_at", "notes")
    section = "runs"
    verb, what = "Start", "a cycling run"
    derived_template = "cells/_run_blocks_form.html"

    def stored(self, user, label):
        return get_object_or_404(visible_records(user, CyclingRun.objects.all()), human_id=label)

    def initial(self, request):
        initial = {"state": CyclingRun.State.RUNNING}
        cell = request.GET.get("cell")
        if cell:
            found = visible_records(request.user, Cell.objects.filter(human_id=cell)).first()
            if found is not None:
                initial["cell"] = found.pk
        return initial

    def offer_choices(self, form, projects):
        cells = Cell.objects.filter(project__in=projects).order_by("-created_at")
        offer(form.fields["cell"], cells, lambda c: f"{c.human_id} {c.name or c.get_kind_display()}")
        protocols = Protocol.objects.filter(project__in=projects).prefetch_related("steps").order_by("-created_at")
        offer(form.fields["protocol"], protocols, lambda p: f"{p.human_id} {p.name} ({protocol_summary(p)})")
        form.fields["channel"].queryset = Channel.objects.select_related("cycler")
        form.fields["channel"].choices = [("", "—")] + [(c.pk, channel_label(c)) for c in channels_with_their_runs(
            projects)]

    def derived(self, record):
        return {"blocks": run_currents(record)}

    def create(self, user, project, **fields):
        return services.cycling_run_start(user=user, project=project, **fields)

    def update(self, user, record, **fields):
        return services.cycling_run_update(user=user, run=record, **fields)


class ProtocolFormView(RecordFormView):
    model = Protocol
    fields = ("name", "description", "notes")
    rows = {"steps": Rows(("order", "cycle_count", "charge_c_rate", "discharge_c_rate", "lower_cutoff_v",
                           "upper_cutoff_v", "rest_min"), "Blocks of identical cycles", extra=2)}
    section = "protocols"
    verb, what = "Define", "a protocol"

    def stored(self, user, label):
        return get_object_or_404(visible_records(user, Protocol.objects.all()), human_id=label)

    def create(self, user, project, **fields):
        return services.protocol_define(user=user, project=project, **fields)

    def update(self, user, record, **fields):
        return services.protocol_update(user=user, protocol=record, **fields)

