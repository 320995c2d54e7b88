from rest_framework import serializers

from cells import models, services
from eln.api.serializers import DerivedField, LabRecordSerializer, child_serializer


class CyclerSerializer(serializers.ModelSerializer):
    channels = serializers.SlugRelatedField(slug_field="number", many=True, read_only=True)

    class Meta:
        model = models.Cycler
        fields = ("id", "name", "vendor", "model", "serial_number", "location", "channels")

    def create(self, validated_data):
        return services.cycler_register(user=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        return services.cycler_update(user=self.context["request"].user, cycler=instance, **validated_data)


class ChannelSerializer(serializers.ModelSerializer):
    cycler = serializers.SlugRelatedField(slug_field="name", queryset=models.Cycler.objects.all())

    class Meta:
        model = models.Channel
        fields = ("id", "cycler", "number")

    def create(self, validated_data):
        return services.channel_add(user=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        return services.channel_update(user=self.context["request"].user, channel=instance, **validated_data)


ProtocolStepSerializer = child_serializer(models.ProtocolStep, ("protocol",))


class ProtocolSerializer(LabRecordSerializer):
    steps = ProtocolStepSerializer(many=True)
    cycle_count = DerivedField()
    create_service = staticmethod(services.protocol_define)
    update_service = staticmethod(services.protocol_update)
    record_kwarg = "protocol"

    class Meta:
        model = models.Protocol
        fields = LabRecordSerializer.base_fields + ("name", "description", "steps", "cycle_count")


CellPartSerializer = child_serializer(models.CellPart, ("cell",))


class CellSerializer(LabRecordSerializer):
    parts = CellPartSerializer(many=True)
    first_half_cycle = DerivedField()
    area_cm2 = DerivedField()
    reference_specific_capacity_mah_g = DerivedField()
    one_c_current_ma = DerivedField()
    one_c_current_density_ma_cm2 = DerivedField()
    np_ratio = DerivedField()
    create_service = staticmethod(services.cell_build)
    update_service = staticmethod(services.cell_update)
    record_kwarg = "cell"

    class Meta:
        model = models.Cell
        fields = LabRecordSerializer.base_fields + (
            "name", "kind", "assembled_on", "parts", "separator_batch", "separator_mass_mg",
            "separator_pressure_mpa", "liquid_electrolyte", "assembly_pressure_mpa", "stack_pressure_mpa",
            "hardware", "temperature_c", "lower_cutoff_v", "upper_cutoff_v", "np_basis",
            "negative_capacity_for_np_mah_g", "positive_capacity_for_np_mah_g", "excluded_from_comparisons",
            "positive_reference_dataset", "positive_reference_cycle", "negative_reference_dataset",
            "negative_reference_cycle", "first_half_cycle", "area_cm2", "reference_specific_capacity_mah_g", "one_c_current_ma",
            "one_c_current_density_ma_cm2", "np_ratio",
        )


class CyclingRunSerializer(LabRecordSerializer):
    channel = serializers.PrimaryKeyRelatedField(queryset=models.Channel.objects.all(), allow_null=True, required=False)
    create_service = staticmethod(services.cycling_run_start)
    update_service = staticmethod(services.cycling_run_update)
    record_kwarg = "run"

    class Meta:
        model = models.CyclingRun
        fields = LabRecordSerializer.base_fields + (
            "cell", "channel", "protocol", "state", "started_at", "finished_at",
        )


class RawDataFileSerializer(serializers.ModelSerializer):
    run = serializers.SlugRelatedField(slug_field="human_id", read_only=True)
    uploaded_by = serializers.StringRelatedField()

    class Meta:
        model = models.RawDataFile
        fields = ("id", "run", "original_name", "sha256", "size_bytes", "uploaded_at", "uploaded_by", "supersedes")


class DatasetSerializer(LabRecordSerializer):
    raw_file = RawDataFileSerializer(read_only=True)

    class Meta:
        model = models.Dataset
        fields = LabRecordSerializer.base_fields + ("run", "raw_file", "source_name", "state", "message",
                                                    "measurement_kind", "warning_count", "data_started_at",
                                                    "excluded_from_history", "exclusion_reason")
        read_only_fields = ("run", "source_name", "state", "message", "measurement_kind", "warning_count",
                            "data_started_at", "excluded_from_history", "exclusion_reason")
