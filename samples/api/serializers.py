from rest_framework import serializers

from eln.api.serializers import DerivedField, LabRecordSerializer, child_serializer
from samples import models, selectors, services


class MaterialSerializer(serializers.ModelSerializer):
    theoretical_specific_capacity_mah_g = DerivedField()

    class Meta:
        model = models.Material
        fields = "__all__"

    def create(self, validated_data):
        return services.material_add(user=self.context["request"].user, **validated_data)

    def update(self, instance, validated_data):
        return services.material_update(user=self.context["request"].user, material=instance, **validated_data)


class StockMovementSerializer(serializers.ModelSerializer):
    holder = serializers.SerializerMethodField(help_text="the lot or made batch the line takes from")
    unit = serializers.SerializerMethodField()
    created_by = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = models.StockMovement
        fields = ("id", "holder", "quantity", "unit", "kind", "used_for", "note", "created_at", "created_by")

    def get_holder(self, line) -> str:
        return line.holder.human_id

    def get_unit(self, line) -> str:
        return line.holder.STOCK_UNIT


LotTreatmentSerializer = child_serializer(models.LotTreatment, ("lot",))
LotInputSerializer = child_serializer(models.LotInput, ("made_lot",))


class PrecursorLotSerializer(LabRecordSerializer):
    remaining_mg = serializers.SerializerMethodField()
    is_low_stock = serializers.SerializerMethodField()
    treatments = LotTreatmentSerializer(many=True, required=False)
    inputs = LotInputSerializer(many=True, required=False,
                                help_text="for a lot made in house: the lots it was made from and the masses taken")
    create_service = staticmethod(services.lot_receive)
    update_service = staticmethod(services.lot_update)
    record_kwarg = "lot"

    class Meta:
        model = models.PrecursorLot
        fields = LabRecordSerializer.base_fields + (
            "material", "supplier", "lot_number", "received_on", "purity_percent", "quantity_received_mg",
            "remaining_mg", "low_stock_threshold_mg", "is_low_stock", "storage_place", "storage_detail",
            "state", "hazards", "treatments", "inputs",
        )

    def get_remaining_mg(self, lot) -> float:
        return selectors.stock_of(lot)[1]

    def get_is_low_stock(self, lot) -> bool:
        return selectors.is_low(lot)


ElectrolyteBatchInputSerializer = child_serializer(models.ElectrolyteBatchInput, ("batch",))
ElectrolyteBatchStepSerializer = child_serializer(models.ElectrolyteBatchStep, ("batch",))
ConductivityMeasurementSerializer = child_serializer(
    models.ConductivityMeasurement, ("batch",), {"conductivity_s_cm": DerivedField()}
)


class ArrheniusSerializer(serializers.Serializer):
    activation_energy_ev = serializers.FloatField()
    prefactor_s_k_cm = serializers.FloatField()
    r_squared = serializers.FloatField()


class ElectrolyteBatchSerializer(LabRecordSerializer):
    inputs = ElectrolyteBatchInputSerializer(many=True, required=False)
    steps = ElectrolyteBatchStepSerializer(many=True, required=False)
    conductivity_measurements = ConductivityMeasurementSerializer(many=True, required=False)
    conductivity_25c_s_cm = serializers.SerializerMethodField()
    activation_energy = ArrheniusSerializer(read_only=True, allow_null=True)
    remaining_mg = serializers.SerializerMethodField(help_text="what is left of the yield, from the batch's ledger")
    create_service = staticmethod(services.electrolyte_batch_record)
    update_service = staticmethod(services.electrolyte_batch_update)
    record_kwarg = "batch"

    class Meta:
        model = models.ElectrolyteBatch
        fields = LabRecordSerializer.base_fields + (
            "name", "product", "route", "solvent_lot", "solvent_volume_ml", "prepared_on", "yield_mg",
            "remaining_mg", "pellet_mass_mg", "xrd_phase", "xrd_main_reflection_two_theta_deg",
            "ir_b_h_bands_present", "ir_solvent_bands_present", "inputs", "steps", "conductivity_measurements",
            "conductivity_25c_s_cm", "activation_energy",
        )

    def get_conductivity_25c_s_cm(self, batch) -> float | None:
        return batch.conductivity_at(25.0)

    def get_remaining_mg(self, batch) -> float | None:
        return selectors.stock_of(batch)[1]


InfiltrationSolutionInputSerializer = child_serializer(models.InfiltrationSolutionInput, ("solution",))


class InfiltrationSolutionSerializer(LabRecordSerializer):
    inputs = InfiltrationSolutionInputSerializer(many=True, required=False)
    concentration_mg_ml = DerivedField()
    remaining_ml = serializers.SerializerMethodField(help_text="what is left of the solution, from its ledger")
    create_service = staticmethod(services.infiltration_solution_prepare)
    update_service = staticmethod(services.infiltration_solution_update)
    record_kwarg = "solution"

    class Meta:
        model = models.InfiltrationSolution
        fields = LabRecordSerializer.base_fields + (
            "name", "product", "solvent_lot", "solvent_volume_ml", "remaining_ml", "prepared_on", "inputs",
            "concentration_mg_ml",
        )

    def get_remaining_ml(self, solution) -> float | None:
        return selectors.stock_of(solution)[1]


SheetComponentSerializer = child_serializer(models.SheetComponent, ("sheet",))
LoadingDiscSerializer = child_serializer(
    models.LoadingDisc, ("sheet",), {"coating_loading_mg_cm2": DerivedField(), "area_cm2": DerivedField()}
)


class ElectrodeSheetSerializer(LabRecordSerializer):
    components = SheetComponentSerializer(many=True)
    loading_discs = LoadingDiscSerializer(many=True, required=False)
    composition = DerivedField(source="composition_label")
    composite_density_g_cm3 = DerivedField()
    areal_loading_mg_cm2 = DerivedField()
    areal_loading_spread_mg_cm2 = DerivedField()
    active_loading_mg_cm2 = DerivedField()
    casting_porosity = DerivedField()
    create_service = staticmethod(services.electrode_sheet_cast)
    update_service = staticmethod(services.electrode_sheet_update)
    record_kwarg = "sheet"

    class Meta:
        model = models.ElectrodeSheet
        fields = LabRecordSerializer.base_fields + (
            "name", "components", "composition", "slurry_solvent_lot", "slurry_solvent_volume_ml",
            "current_collector", "current_collector_areal_mass_mg_cm2", "cast_on", "drying_temperature_c",
            "drying_duration_h", "drying_atmosphere", "coating_thickness_um", "loading_discs",
            "composite_density_g_cm3", "areal_loading_mg_cm2", "areal_loading_spread_mg_cm2",
            "active_loading_mg_cm2", "casting_porosity",
        )


class ElectrodeSerializer(LabRecordSerializer):
    area_cm2 = DerivedField()
    coating_mass_mg = DerivedField()
    active_mass_mg = DerivedField()
    active_loading_mg_cm2 = DerivedField()
    create_service = staticmethod(services.electrode_punch)
    update_service = staticmethod(services.electrode_update)
    record_kwarg = "electrode"

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
    create_service = staticmethod(services.infiltration_run_record)
    update_service = staticmethod(services.infiltration_run_update)
    record_kwarg = "run"

    class Meta:
        model = models.InfiltrationRun
        fields = LabRecordSerializer.base_fields + ("solution", "solution_volume_ml", "performed_on", "dip_time_min",
                                                    "drying_steps", "electrodes")


AlloyBatchInputSerializer = child_serializer(models.AlloyBatchInput, ("batch",))


class AlloyBatchSerializer(LabRecordSerializer):
    inputs = AlloyBatchInputSerializer(many=True, required=False)
    remaining_mg = serializers.SerializerMethodField(help_text="what is left of the alloy, from its ledger")
    create_service = staticmethod(services.alloy_batch_prepare)
    update_service = staticmethod(services.alloy_batch_update)
    record_kwarg = "batch"

    class Meta:
        model = models.AlloyBatch
        fields = LabRecordSerializer.base_fields + ("name", "prepared_on", "yield_mg", "remaining_mg", "inputs")

    def get_remaining_mg(self, batch) -> float | None:
        return selectors.stock_of(batch)[1]
