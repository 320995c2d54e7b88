from rest_framework import serializers

from eln.api.serializers import DerivedField, LabRecordSerializer, child_serializer
from samples import models, services


class MaterialSerializer(serializers.ModelSerializer):
    theoretical_specific_capacity_mah_g = DerivedField()

    class Meta:
        model = models.Material
        fields = "__all__"


class StockMovementSerializer(serializers.ModelSerializer):
    lot = serializers.SlugRelatedField(slug_field="human_id", read_only=True)
    created_by = serializers.StringRelatedField()

    class Meta:
        model = models.StockMovement
        fields = ("id", "lot", "mass_mg", "kind", "used_for", "note", "created_at", "created_by")


class StockTakingSerializer(LabRecordSerializer):
    """Children that take mass from lots (``stock_children``) write ledger lines as they are saved."""

    stock_children: tuple[str, ...] = ()

    def replace_children(self, instance, name, child_serializer, parent_field, rows):
        if name not in self.stock_children:
            return super().replace_children(instance, name, child_serializer, parent_field, rows)
        for row in getattr(instance, name).all():
            row.delete()  # gives its stock back (samples.signals)
        model = child_serializer.Meta.model
        created = [model.objects.create(**{parent_field: instance}, **row) for row in rows]
        user = self.context["request"].user
        try:
            services.take_stock(
                [(row.lot, row.mass_mg, row) for row in created], used_for=instance.human_id, user=user
            )
        except services.InsufficientStock as error:
            raise serializers.ValidationError({name: error.messages})


LotTreatmentSerializer = child_serializer(models.LotTreatment, ("lot",))


class PrecursorLotSerializer(LabRecordSerializer):
    remaining_mg = DerivedField()
    is_low_stock = DerivedField()
    treatments = LotTreatmentSerializer(many=True, required=False)
    children = {"treatments": (LotTreatmentSerializer, "lot")}

    class Meta:
        model = models.PrecursorLot
        fields = LabRecordSerializer.base_fields + (
            "material", "supplier", "lot_number", "received_on", "purity_percent", "quantity_received_mg",
            "remaining_mg", "low_stock_threshold_mg", "is_low_stock", "storage_place", "storage_detail",
            "state", "hazards", "treatments",
        )


ElectrolyteBatchInputSerializer = child_serializer(models.ElectrolyteBatchInput, ("batch",))
ElectrolyteBatchStepSerializer = child_serializer(models.ElectrolyteBatchStep, ("batch",))
ConductivityMeasurementSerializer = child_serializer(
    models.ConductivityMeasurement, ("batch",), {"conductivity_s_cm": DerivedField()}
)


class ArrheniusSerializer(serializers.Serializer):
    activation_energy_ev = serializers.FloatField()
    prefactor_s_k_cm = serializers.FloatField()
    r_squared = serializers.FloatField()


class ElectrolyteBatchSerializer(StockTakingSerializer):
    inputs = ElectrolyteBatchInputSerializer(many=True, required=False)
    steps = ElectrolyteBatchStepSerializer(many=True, required=False)
    conductivity_measurements = ConductivityMeasurementSerializer(many=True, required=False)
    conductivity_25c_s_cm = serializers.SerializerMethodField()
    activation_energy = ArrheniusSerializer(read_only=True, allow_null=True)
    children = {
        "inputs": (ElectrolyteBatchInputSerializer, "batch"),
        "steps": (ElectrolyteBatchStepSerializer, "batch"),
        "conductivity_measurements": (ConductivityMeasurementSerializer, "batch"),
    }
    stock_children = ("inputs",)

    class Meta:
        model = models.ElectrolyteBatch
        fields = LabRecordSerializer.base_fields + (
            "name", "product", "route", "solvent_lot", "solvent_volume_ml", "prepared_on", "yield_mg",
            "xrd_phase", "xrd_main_reflection_two_theta_deg", "ir_b_h_bands_present",
            "ir_solvent_bands_present", "inputs", "steps", "conductivity_measurements",
            "conductivity_25c_s_cm", "activation_energy",
        )

    def get_conductivity_25c_s_cm(self, batch) -> float | None:
        return batch.conductivity_at(25.0)


InfiltrationSolutionInputSerializer = child_serializer(models.InfiltrationSolutionInput, ("solution",))


class InfiltrationSolutionSerializer(StockTakingSerializer):
    inputs = InfiltrationSolutionInputSerializer(many=True, required=False)
    concentration_mg_ml = DerivedField()
    children = {"inputs": (InfiltrationSolutionInputSerializer, "solution")}
    stock_children = ("inputs",)

    class Meta:
        model = models.InfiltrationSolution
        fields = LabRecordSerializer.base_fields + (
            "name", "product", "solvent_lot", "solvent_volume_ml", "prepared_on", "inputs", "concentration_mg_ml",
        )


SheetComponentSerializer = child_serializer(models.SheetComponent, ("sheet",))
LoadingDiscSerializer = child_serializer(
    models.LoadingDisc, ("sheet",), {"coating_loading_mg_cm2": DerivedField(), "area_cm2": DerivedField()}
)


class ElectrodeSheetSerializer(StockTakingSerializer):
    components = SheetComponentSerializer(many=True)
    loading_discs = LoadingDiscSerializer(many=True, required=False)
    composition = DerivedField(source="composition_label")
    composite_density_g_cm3 = DerivedField()
    areal_loading_mg_cm2 = DerivedField()
    areal_loading_spread_mg_cm2 = DerivedField()
    active_loading_mg_cm2 = DerivedField()
    casting_porosity = DerivedField()
    children = {
        "components": (SheetComponentSerializer, "sheet"),
        "loading_discs": (LoadingDiscSerializer, "sheet"),
    }
    stock_children = ("components",)

    class Meta:
        model = models.ElectrodeSheet
        fields = LabRecordSerializer.base_fields + (
            "name", "components", "composition", "slurry_solvent_lot", "current_collector",
            "current_collector_areal_mass_mg_cm2", "cast_on", "drying_temperature_c", "drying_duration_h",
            "drying_atmosphere", "coating_thickness_um", "loading_discs", "composite_density_g_cm3",
            "areal_loading_mg_cm2", "areal_loading_spread_mg_cm2", "active_loading_mg_cm2", "casting_porosity",
        )

    def validate_components(self, components):
        problems = models.composition_problems([(c["role"], c["mass_fraction_percent"]) for c in components])
        if problems:
            raise serializers.ValidationError(problems)
        return components


class ElectrodeSerializer(LabRecordSerializer):
    area_cm2 = DerivedField()
    coating_mass_mg = DerivedField()
    active_mass_mg = DerivedField()
    active_loading_mg_cm2 = DerivedField()

    class Meta:
        model = models.Electrode
        fields = LabRecordSerializer.base_fields + (
            "sheet", "diameter_mm", "mass_mg", "punched_on", "area_cm2", "coating_mass_mg", "active_mass_mg",
            "active_loading_mg_cm2",
        )


InfiltrationDryingStepSerializer = child_serializer(models.InfiltrationDryingStep, ("run",))
InfiltratedElectrodeSerializer = child_serializer(
    models.InfiltratedElectrode, ("run",), {
        "electrolyte_mass_mg": DerivedField(),
        "measured_uptake_fraction": DerivedField(),
        "expected_uptake_fraction": DerivedField(),
        "remaining_porosity": DerivedField(),
    },
)


class InfiltrationRunSerializer(LabRecordSerializer):
    drying_steps = InfiltrationDryingStepSerializer(many=True, required=False)
    electrodes = InfiltratedElectrodeSerializer(many=True)
    children = {
        "drying_steps": (InfiltrationDryingStepSerializer, "run"),
        "electrodes": (InfiltratedElectrodeSerializer, "run"),
    }

    class Meta:
        model = models.InfiltrationRun
        fields = LabRecordSerializer.base_fields + ("solution", "performed_on", "dip_time_min", "drying_steps",
                                                    "electrodes")

    def validate_electrodes(self, rows):
        seen = set()
        for row in rows:
            if row["electrode"].pk in seen:
                raise serializers.ValidationError(f"{row['electrode'].human_id} is listed twice.")
            seen.add(row["electrode"].pk)
            if row["mass_after_mg"] < row["mass_before_mg"]:
                raise serializers.ValidationError(
                    f"{row['electrode'].human_id}: mass_after_mg ({row['mass_after_mg']:g}) is below "
                    f"mass_before_mg ({row['mass_before_mg']:g}); infiltration adds electrolyte."
                )
        return rows


AlloyBatchInputSerializer = child_serializer(models.AlloyBatchInput, ("batch",))


class AlloyBatchSerializer(StockTakingSerializer):
    inputs = AlloyBatchInputSerializer(many=True, required=False)
    children = {"inputs": (AlloyBatchInputSerializer, "batch")}
    stock_children = ("inputs",)

    class Meta:
        model = models.AlloyBatch
        fields = LabRecordSerializer.base_fields + ("name", "prepared_on", "inputs")
