from rest_framework import serializers

from analysis.core.cycling import SUMMARY_COLUMNS
from analysis.models import CellMetrics, CycleSummary


class CycleSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = CycleSummary
        fields = tuple(SUMMARY_COLUMNS)


class CellMetricsSerializer(serializers.ModelSerializer):
    cell = serializers.SlugRelatedField(slug_field="human_id", read_only=True)
    dataset = serializers.SlugRelatedField(slug_field="human_id", read_only=True)

    class Meta:
        model = CellMetrics
        fields = ("cell", "dataset", "computed_at", "first_cycle_efficiency",
                  "initial_specific_discharge_capacity_mah_g", "loading_check", "values")


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
