from rest_framework import serializers

from cells import models
from eln.api.serializers import DerivedField, LabRecordSerializer, child_serializer


class CyclerSerializer(serializers.ModelSerializer):
    channels = serializers.SlugRelatedField(slug_field="number", many=True, read_only=True)

    class Meta:
        model = models.Cycler
        fields = ("id", "name", "vendor", "model", "serial_number", "location", "channels")


class ChannelSerializer(serializers.ModelSerializer):
    cycler = serializers.SlugRelatedField(slug_field="name", queryset=models.Cycler.objects.all())

    class Meta:
        model = models.Channel
        fields = ("id", "cycler", "number")


ProtocolStepSerializer = child_serializer(models.ProtocolStep, ("protocol",))


class ProtocolSerializer(LabRecordSerializer):
    steps = ProtocolStepSerializer(many=True)
    cycle_count = DerivedField()
    children = {"steps": (ProtocolStepSerializer, "protocol")}

    class Meta:
        model = models.Protocol
        fields = LabRecordSerializer.base_fields + ("name", "description", "steps", "cycle_count")

    def validate_steps(self, steps):
        if not steps:
            raise serializers.ValidationError("A protocol needs at least one step.")
        for step in steps:
            low, high = step.get("lower_cutoff_v"), step.get("upper_cutoff_v")
            if low is not None and high is not None and low >= high:
                raise serializers.ValidationError(
                    f"Step {step.get('order', '?')}: lower_cutoff_v ({low:g} V) must be below upper_cutoff_v ({high:g} V)."
                )
        return steps


CellPartSerializer = child_serializer(models.CellPart, ("cell",))


class CellSerializer(LabRecordSerializer):
    parts = CellPartSerializer(many=True)
    first_half_cycle = DerivedField()
    area_cm2 = DerivedField()
    reference_specific_capacity_mah_g = DerivedField()
    one_c_current_ma = DerivedField()
    one_c_current_density_ma_cm2 = DerivedField()
    np_ratio = DerivedField()
    children = {"parts": (CellPartSerializer, "cell")}

    class Meta:
        model = models.Cell
        fields = LabRecordSerializer.base_fields + (
            "name", "kind", "assembled_on", "parts", "separator_batch", "separator_mass_mg",
            "separator_pressure_mpa", "liquid_electrolyte", "assembly_pressure_mpa", "stack_pressure_mpa",
            "hardware", "temperature_c", "lower_cutoff_v", "upper_cutoff_v", "np_basis",
            "negative_capacity_for_np_mah_g", "positive_capacity_for_np_mah_g", "excluded_from_comparisons",
            "first_half_cycle", "area_cm2", "reference_specific_capacity_mah_g", "one_c_current_ma",
            "one_c_current_density_ma_cm2", "np_ratio",
        )

    def validate_parts(self, parts):
        roles = [p["role"] for p in parts]
        duplicates = {r for r in roles if roles.count(r) > 1}
        if duplicates:
            raise serializers.ValidationError(f"Each role appears once; repeated: {', '.join(sorted(duplicates))}.")
        for part in parts:
            if not (part.get("electrode") or part.get("alloy_batch") or part.get("description")):
                raise serializers.ValidationError(
                    f"The {part['role']} part needs an electrode, an alloy_batch or a description."
                )
        return parts

    def validate(self, attrs):
        attrs = super().validate(attrs)
        kind = attrs.get("kind", getattr(self.instance, "kind", None))
        parts = attrs.get("parts")
        if parts is not None:
            roles = {p["role"] for p in parts}
            needed = {"positive", "negative"} | ({"reference"} if kind == models.Cell.Kind.THREE_ELECTRODE else set())
            missing = needed - roles
            if missing:
                raise serializers.ValidationError(
                    {"parts": f"A {kind.replace('_', ' ')} cell needs parts in the roles: {', '.join(sorted(missing))}."}
                )
        low = attrs.get("lower_cutoff_v", getattr(self.instance, "lower_cutoff_v", None))
        high = attrs.get("upper_cutoff_v", getattr(self.instance, "upper_cutoff_v", None))
        if low is not None and high is not None and low >= high:
            raise serializers.ValidationError(
                {"lower_cutoff_v": f"The lower cut-off ({low:g} V) must be below the upper cut-off ({high:g} V)."}
            )
        basis = attrs.get("np_basis", getattr(self.instance, "np_basis", None))
        if basis == models.Cell.NpBasis.MEASURED and kind in (models.Cell.Kind.FULL, models.Cell.Kind.THREE_ELECTRODE):
            for field in ("negative_capacity_for_np_mah_g", "positive_capacity_for_np_mah_g"):
                if attrs.get(field, getattr(self.instance, field, None)) is None:
                    raise serializers.ValidationError(
                        {field: "Required when the N/P basis is 'measured': the half cell's reversible capacity."}
                    )
        return attrs


class CyclingRunSerializer(LabRecordSerializer):
    channel = serializers.PrimaryKeyRelatedField(queryset=models.Channel.objects.all(), allow_null=True, required=False)

    class Meta:
        model = models.CyclingRun
        fields = LabRecordSerializer.base_fields + (
            "cell", "channel", "protocol", "state", "started_at", "finished_at",
        )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        project = attrs.get("project", getattr(self.instance, "project", None))
        for field in ("cell", "protocol"):
            record = attrs.get(field)
            if record is not None and project is not None and record.project_id != project.pk:
                raise serializers.ValidationError({field: f"{record.human_id} belongs to another project."})
        return attrs


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
        fields = LabRecordSerializer.base_fields + ("run", "raw_file", "source_name", "state", "message")
        read_only_fields = ("run", "source_name", "state", "message")
