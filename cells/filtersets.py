"""Filters shared by the API and the pages."""
import django_filters as filters

from cells import models
from samples.filtersets import LabRecordFilterSet


class CyclerFilterSet(filters.FilterSet):
    class Meta:
        model = models.Cycler
        fields = {"name": ["exact", "icontains"], "vendor": ["exact"], "location": ["icontains"]}


class ChannelFilterSet(filters.FilterSet):
    cycler = filters.CharFilter(field_name="cycler__name")

    class Meta:
        model = models.Channel
        fields = ["number"]


class ProtocolFilterSet(LabRecordFilterSet):
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = models.Protocol
        fields = []


class CellFilterSet(LabRecordFilterSet):
    electrode = filters.CharFilter(field_name="parts__electrode__human_id", distinct=True)
    sheet = filters.CharFilter(field_name="parts__electrode__sheet__human_id", distinct=True)
    separator_batch = filters.CharFilter(field_name="separator_batch__human_id")
    stack_pressure_mpa = filters.NumberFilter()
    stack_pressure_mpa__lte = filters.NumberFilter(field_name="stack_pressure_mpa", lookup_expr="lte")
    stack_pressure_mpa__gte = filters.NumberFilter(field_name="stack_pressure_mpa", lookup_expr="gte")

    class Meta:
        model = models.Cell
        fields = ["kind", "hardware", "temperature_c"]


class CyclingRunFilterSet(LabRecordFilterSet):
    cell = filters.CharFilter(field_name="cell__human_id")
    cycler = filters.CharFilter(field_name="channel__cycler__name")
    protocol = filters.CharFilter(field_name="protocol__human_id")

    class Meta:
        model = models.CyclingRun
        fields = ["state"]


class RawDataFileFilterSet(filters.FilterSet):
    run = filters.CharFilter(field_name="run__human_id")

    class Meta:
        model = models.RawDataFile
        fields = ["sha256", "original_name"]


class DatasetFilterSet(LabRecordFilterSet):
    run = filters.CharFilter(field_name="run__human_id")

    class Meta:
        model = models.Dataset
        fields = ["state"]
