from rest_framework import serializers

from analysis.core.cycling import SUMMARY_COLUMNS
from analysis.models import NOT_SUMMARY_FIELDS, CellMetrics, CycleSummary, QualityFlag

SUMMARY_FIELDS = ("cycle_number", "history_cycle_number",
                  *(name for name in SUMMARY_COLUMNS if name not in NOT_SUMMARY_FIELDS))


class QualityFlagSerializer(serializers.ModelSerializer):
    class Meta:
        model = QualityFlag
        fields = ("cycle_number", "code", "half", "quantity", "value", "limit", "unit", "message", "details")


class CycleSummarySerializer(serializers.ModelSerializer):
    """One cycle with its quality flags (``context["flags"]``: flags by (dataset id, cycle))."""

    flags = serializers.SerializerMethodField()

    class Meta:
        model = CycleSummary
        fields = (*SUMMARY_FIELDS, "flags")

    def get_flags(self, row) -> list[dict]:
        flags = self.context.get("flags", {}).get((row.dataset_id, row.cycle_number), [])
        return QualityFlagSerializer(flags, many=True).data


class HistoryCycleSerializer(CycleSummarySerializer):
    """A cycle of a cell's history: its dataset, its number there and in the history."""

    dataset = serializers.SlugRelatedField(slug_field="human_id", read_only=True)
    run = serializers.CharField(source="dataset.run.human_id", read_only=True)

    class Meta(CycleSummarySerializer.Meta):
        fields = ("history_cycle_number", "dataset", "run", *SUMMARY_FIELDS[:1], *SUMMARY_FIELDS[2:], "flags")


class CellMetricsSerializer(serializers.ModelSerializer):
    cell = serializers.SlugRelatedField(slug_field="human_id", read_only=True)
    dataset = serializers.SlugRelatedField(slug_field="human_id", read_only=True)

    class Meta:
        model = CellMetrics
        fields = ("cell", "dataset", "sources", "left_out", "computed_at", "first_cycle_efficiency",
                  "initial_specific_discharge_capacity_mah_g", "loading_check", "values")


class LeaveOutSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, trim_whitespace=True,
                                   help_text="why the dataset is left out of the cell's history")


class CycleDataQuerySerializer(serializers.Serializer):
    """?cycles=2-5&points=2000&columns=test_time_s,voltage_v"""

    cycles = serializers.RegexField(r"^\d+(-\d+)?$", required=False,
                                    help_text="one cycle (3) or a range (2-5); all cycles when absent")
    points = serializers.IntegerField(min_value=2, max_value=200_000, required=False,
                                      help_text="down-sample to at most this many points")
    columns = serializers.CharField(required=False, help_text="comma-separated canonical columns")

    def validate_cycles(self, value):
        first, _, last = value.partition("-")
        first, last = int(first), int(last or first)
        if last < first:
            raise serializers.ValidationError(f"The range {value} ends before it starts.")
        return first, last
