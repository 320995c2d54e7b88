"""What is made: materials, precursor lots and their stock, electrolyte batches, solutions,
electrode sheets, electrodes and infiltration runs."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from analysis.core import process
from eln.models import LabRecord, RulesInClean, physical



class Material(models.Model):
    """A substance the lab uses, with the constants the calculations need."""

    class Kind(models.TextChoices):
        CATHODE_ACTIVE = "cathode_active", "cathode active material"
        ANODE_ACTIVE = "anode_active", "anode active material"
        BINDER = "binder", "binder"
        CONDUCTIVE_CARBON = "conductive_carbon", "conductive carbon"
        SOLID_ELECTROLYTE = "solid_electrolyte", "solid electrolyte"
        PRECURSOR = "precursor", "electrolyte precursor"
        SOLVENT = "solvent", "solvent"
        METAL = "metal", "metal (counter/reference electrode)"
        CURRENT_COLLECTOR = "current_collector", "current collector"
        LIQUID_ELECTROLYTE = "liquid_electrolyte", "liquid electrolyte"
        OTHER = "other", "other"

    name = models.CharField(max_length=100, unique=True)
    formula = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    density_g_cm3 = models.FloatField("density (g/cm³)", null=True, blank=True, validators=physical("density"))
    molar_mass_g_mol = models.FloatField("molar mass (g/mol)", null=True, blank=True, validators=physical("molar_mass"))
    electrons_per_formula_unit = models.FloatField(
        null=True, blank=True, validators=physical("electrons"),
        help_text="Na exchanged per formula unit in the reaction that defines the theoretical capacity",
    )
    reference_specific_capacity_mah_g = models.FloatField(
        "reference specific capacity (mAh/g)", null=True, blank=True, validators=physical("specific_capacity"),
        help_text="the practical capacity that defines 1C for cells of this active material",
    )
    hazards = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def theoretical_specific_capacity_mah_g(self) -> float | None:
        if not (self.molar_mass_g_mol and self.electrons_per_formula_unit):
            return None
        return process.theoretical_specific_capacity_mah_g(self.electrons_per_formula_unit, self.molar_mass_g_mol)


K = Material.Kind
# What a lot (or a made batch's product) may be, by what the lab uses it for.
USES = {
    "solvent": (K.SOLVENT,),
    "salt": (K.PRECURSOR,),
    "electrolyte precursor": (K.PRECURSOR,),
    "active material": (K.CATHODE_ACTIVE, K.ANODE_ACTIVE),
    "cathode active material": (K.CATHODE_ACTIVE,),
    "anode active material": (K.ANODE_ACTIVE,),
    "binder": (K.BINDER,),
    "conductive carbon": (K.CONDUCTIVE_CARBON,),
    "solid electrolyte": (K.SOLID_ELECTROLYTE,),
    "alloy metal": (K.METAL, K.ANODE_ACTIVE),
    "metal electrode": (K.METAL,),
}


def with_article(phrase: str) -> str:
    return f"{'an' if phrase[:1].lower() in 'aeiou' else 'a'} {phrase}"


def material_use_problem(material: Material | None, use: str, *, what: str = "") -> str | None:
    """Why ``material`` cannot serve as ``use`` (a key of USES), or None. ``what`` names the
    record holding it (e.g. LOT-0012) for the message."""
    if material is None or material.kind in USES[use]:
        return None
    allowed = " or ".join(with_article(str(K(kind).label)) for kind in USES[use])
    kind = with_article(material.get_kind_display())
    subject = f"{what} is {material.name}, {kind}" if what else f"{material.name} is {kind}"
    return f"{subject}; {with_article(use)} must be {allowed}."


class PrecursorLot(LabRecord):
    """A container of a material as received from a supplier; its stock is kept in a ledger."""

    HUMAN_ID_PREFIX = "LOT"

    class State(models.TextChoices):
        AS_RECEIVED = "as_received", "as received"
        DRIED = "dried", "dried"
        IN_USE = "in_use", "opened, in use"
        EMPTY = "empty", "empty"
        DISCARDED = "discarded", "discarded"

    class Storage(models.TextChoices):
        GLOVEBOX = "argon_glovebox", "argon glovebox"
        DESICCATOR = "desiccator", "desiccator"
        SHELF = "shelf", "shelf"
        FRIDGE = "fridge", "fridge"
        FLAMMABLES = "flammables_cabinet", "flammables cabinet"

    material = models.ForeignKey(Material, on_delete=models.PROTECT, related_name="lots")
    supplier = models.CharField(max_length=100)
    lot_number = models.CharField(max_length=100, blank=True)
    received_on = models.DateField(null=True, blank=True)
    purity_percent = models.FloatField("purity (%)", null=True, blank=True, validators=physical("percent"))
    quantity_received_mg = models.FloatField("quantity received (mg)", validators=physical("mass"))
    low_stock_threshold_mg = models.FloatField(
        "low-stock mark (mg)", default=0, validators=physical("mass"),
        help_text="the lot is marked low when what is left falls below this",
    )
    storage_place = models.CharField(max_length=30, choices=Storage.choices, default=Storage.GLOVEBOX)
    storage_detail = models.CharField(max_length=100, blank=True, help_text="shelf, box or position")
    state = models.CharField(max_length=20, choices=State.choices, default=State.AS_RECEIVED)
    hazards = models.CharField(max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta(LabRecord.Meta):
        verbose_name = "precursor lot"

    # Stock holder: what it holds, in which unit (samples.selectors computes what is left).
    STOCK_FIELD, STOCK_UNIT, STOCK_LABEL = "quantity_received_mg", "mg", "quantity received"

    def __str__(self):
        return f"{self.human_id} {self.material} ({self.supplier} {self.lot_number})".strip()


class LotTreatment(models.Model):
    """Something done to a whole lot before use, e.g. Na2B10H10 dried at 180 °C for 6 h."""

    lot = models.ForeignKey(PrecursorLot, on_delete=models.CASCADE, related_name="treatments")
    performed_on = models.DateField(null=True, blank=True)
    description = models.CharField(max_length=200, default="drying")
    temperature_c = models.FloatField("temperature (°C)", null=True, blank=True, validators=physical("temperature"))
    duration_h = models.FloatField("duration (h)", null=True, blank=True, validators=physical("hours"))
    atmosphere = models.CharField(max_length=50, blank=True)
    pressure_mbar = models.FloatField("pressure (mbar)", null=True, blank=True, validators=physical("pressure_mbar"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["performed_on", "id"]


HOLDER_FIELDS = ("lot", "electrolyte_batch", "infiltration_solution", "alloy_batch")


class StockMovement(RulesInClean, models.Model):
    """One line of a ledger: a quantity taken (positive) from what the lab holds, or put back
    (negative). The holder is a precursor lot or something the lab made from lots (an
    electrolyte batch, an infiltration solution, an alloy batch); the quantity is in the
    holder's unit (mg, or mL for a solution).

    What is left of a holder is always derived from its ledger (samples.selectors); lines
    written by processes point at the row that used the quantity (``source``).
    """

    class Kind(models.TextChoices):
        USE = "use", "used in a process"
        CORRECTION = "correction", "inventory correction"
        DISPOSAL = "disposal", "disposed of"

    MANUAL_KINDS = (Kind.CORRECTION, Kind.DISPOSAL)
    RULES_IN_CLEAN = ("ledger_line_moves_something", "disposal_takes_out")

    lot = models.ForeignKey(PrecursorLot, null=True, blank=True, on_delete=models.PROTECT, related_name="movements")
    electrolyte_batch = models.ForeignKey(
        "ElectrolyteBatch", null=True, blank=True, on_delete=models.PROTECT, related_name="movements")
    infiltration_solution = models.ForeignKey(
        "InfiltrationSolution", null=True, blank=True, on_delete=models.PROTECT, related_name="movements")
    alloy_batch = models.ForeignKey(
        "AlloyBatch", null=True, blank=True, on_delete=models.PROTECT, related_name="movements")
    quantity = models.FloatField("quantity taken", help_text="in the holder's unit: mg, or mL for a solution; "
                                                             "a negative correction puts back")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.USE)
    used_for = models.CharField(max_length=100, blank=True, help_text="the record that used it, e.g. EB-0003")
    note = models.CharField(max_length=200, blank=True)
    source_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.CASCADE)
    source_id = models.PositiveBigIntegerField(null=True, blank=True)
    source = GenericForeignKey("source_type", "source_id")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["source_type", "source_id"])]
        constraints = [
            models.CheckConstraint(
                condition=(Q(lot__isnull=False, electrolyte_batch=None, infiltration_solution=None, alloy_batch=None)
                           | Q(lot=None, electrolyte_batch__isnull=False, infiltration_solution=None, alloy_batch=None)
                           | Q(lot=None, electrolyte_batch=None, infiltration_solution__isnull=False, alloy_batch=None)
                           | Q(lot=None, electrolyte_batch=None, infiltration_solution=None, alloy_batch__isnull=False)),
                name="ledger_line_of_one_holder",
                violation_error_message="A ledger line belongs to exactly one lot or made batch.",
            ),
            models.CheckConstraint(
                condition=~Q(quantity=0), name="ledger_line_moves_something",
                violation_error_message="A ledger line takes out or puts back a quantity other than 0.",
            ),
            models.CheckConstraint(
                condition=~Q(kind="disposal", quantity__lt=0), name="disposal_takes_out",
                violation_error_message="A disposal takes a positive quantity out.",
            ),
        ]

    def __str__(self):
        holder = self.holder
        unit = holder.STOCK_UNIT if holder else ""
        label = holder.human_id if holder else "?"
        return f"{self.quantity:g} {unit} from {label} ({self.used_for or self.get_kind_display()})"

    @property
    def holder(self):
        return next((getattr(self, name) for name in HOLDER_FIELDS if getattr(self, f"{name}_id")), None)

    @property
    def is_process_line(self) -> bool:
        """Written by a process (read-only for people); corrections and disposals are manual."""
        return self.kind == self.Kind.USE or self.source_type_id is not None

    def clean(self):
        if self.kind == self.Kind.DISPOSAL and self.quantity is not None and self.quantity < 0:
            raise ValidationError({"quantity": "A disposal takes out of the stock: enter a positive quantity."})
        if self.quantity == 0:
            raise ValidationError({"quantity": "Enter the quantity taken out (positive) or put back (negative)."})


class ProcessStep(models.Model):
    """A heating, drying or evaporation step of a process (abstract: one table per process)."""

    order = models.PositiveSmallIntegerField(default=1)
    description = models.CharField(max_length=200)
    temperature_c = models.FloatField("temperature (°C)", null=True, blank=True, validators=physical("temperature"))
    duration_h = models.FloatField("duration (h)", null=True, blank=True, validators=physical("hours"))
    atmosphere = models.CharField(max_length=50, blank=True, help_text="argon, vacuum, air, ...")
    pressure_mbar = models.FloatField("pressure (mbar)", null=True, blank=True, validators=physical("pressure_mbar"))

    class Meta:
        abstract = True
        ordering = ["order", "id"]

    def __str__(self):
        return f"{self.order}. {self.description}"


def lot_use_problem(lot, use: str) -> str | None:
    """Why ``lot`` cannot be used as ``use`` (a key of USES), or None."""
    return material_use_problem(lot.material, use, what=lot.human_id) if lot is not None else None


class LotUse(models.Model):
    """A mass taken from a precursor lot by a process (abstract); it writes a ledger line.
    ``USE`` says what the lot is used as, which decides the materials it may be."""

    USE = ""

    lot = models.ForeignKey(PrecursorLot, on_delete=models.PROTECT, related_name="+")
    mass_mg = models.FloatField("mass (mg)", validators=physical("mass"))

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self.mass_mg:g} mg of {self.lot.human_id}"

    @property
    def parent_record(self):  # the LabRecord this use belongs to, for the ledger's used_for
        raise NotImplementedError

    def clean(self):
        problem = lot_use_problem(self.lot if self.lot_id else None, self.USE) if self.USE else None
        if problem:
            raise ValidationError({"lot": problem})


class LotInput(LotUse):
    """A lot the lab made in house from other lots, e.g. NaCrO2 from Cr2O3 and Na2CO3."""

    USE = None  # a synthesis may start from any material
    made_lot = models.ForeignKey(PrecursorLot, on_delete=models.CASCADE, related_name="inputs")
    history = HistoricalRecords()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["made_lot", "lot"], name="lot_once_per_made_lot")]

    @property
    def parent_record(self):
        return self.made_lot


def solvent_problems(record, lot_field: str, volume_field: str) -> dict[str, str]:
    """A solvent lot must be a solvent, and a volume needs the lot it was taken from."""
    lot = getattr(record, lot_field) if getattr(record, f"{lot_field}_id") else None
    errors = {}
    problem = lot_use_problem(lot, "solvent")
    if problem:
        errors[lot_field] = problem
    volume = getattr(record, volume_field)
    if lot is None and volume is not None:
        errors[lot_field] = f"Give the solvent lot the {volume:g} mL were taken from."
    elif lot is not None and volume is not None and lot.material.density_g_cm3 is None:
        errors[lot_field] = (f"{lot.material.name} has no density, so the {volume:g} mL cannot be booked as a mass "
                             f"from {lot.human_id}; enter the material's density.")
    return errors


class ElectrolyteBatch(LabRecord):
    """A batch of solid electrolyte, e.g. Na4(B12H12)(B10H10) crystallised from isopropanol."""

    HUMAN_ID_PREFIX = "EB"

    class Route(models.TextChoices):
        SOLUTION = "solution", "solution"
        BALL_MILLING = "ball_milling", "ball milling"

    class XrdPhase(models.TextChoices):
        UNKNOWN = "", "not measured"
        FCC = "fcc", "fcc (conductive)"
        MONOCLINIC = "monoclinic", "separate monoclinic salts"
        MIXED = "mixed", "mixed phases"

    name = models.CharField(max_length=200, blank=True)
    product = models.ForeignKey(Material, on_delete=models.PROTECT, related_name="electrolyte_batches")
    route = models.CharField(max_length=20, choices=Route.choices, default=Route.SOLUTION)
    solvent_lot = models.ForeignKey(
        PrecursorLot, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    solvent_volume_ml = models.FloatField("solvent volume (mL)", null=True, blank=True, validators=physical("volume"))
    prepared_on = models.DateField(null=True, blank=True)
    yield_mg = models.FloatField("yield (mg)", null=True, blank=True, validators=physical("mass"))
    xrd_phase = models.CharField("XRD phase", max_length=20, choices=XrdPhase.choices, blank=True)
    xrd_main_reflection_two_theta_deg = models.FloatField("XRD main reflection 2θ (°)", null=True, blank=True,
        validators=physical("angle"))
    ir_b_h_bands_present = models.BooleanField(
        "IR: B-H stretch (2400–2500 cm⁻¹) and bends (600–1200 cm⁻¹) present", null=True, blank=True
    )
    ir_solvent_bands_present = models.BooleanField("IR: solvent bands present", null=True, blank=True)
    pellet_mass_mg = models.FloatField(
        "conductivity pellet mass (mg)", null=True, blank=True, validators=physical("mass"),
        help_text="powder pressed into the impedance pellet; taken from this batch's stock",
    )
    history = HistoricalRecords()

    STOCK_FIELD, STOCK_UNIT, STOCK_LABEL = "yield_mg", "mg", "yield"

    class Meta(LabRecord.Meta):
        verbose_name = "electrolyte batch"
        verbose_name_plural = "electrolyte batches"

    def clean(self):
        errors = solvent_problems(self, "solvent_lot", "solvent_volume_ml")
        problem = material_use_problem(self.product if self.product_id else None, "solid electrolyte")
        if problem:
            errors["product"] = problem
        if errors:
            raise ValidationError(errors)

    def conductivity_at(self, temperature_c: float, tolerance_c: float = 1.0) -> float | None:
        values = [m.conductivity_s_cm for m in self.conductivity_measurements.all()
                  if abs(m.temperature_c - temperature_c) <= tolerance_c]
        return sum(values) / len(values) if values else None

    @property
    def activation_energy(self):
        points = [(m.temperature_c, m.conductivity_s_cm) for m in self.conductivity_measurements.all()]
        if len({t for t, _ in points}) < 2:
            return None
        temperatures, sigmas = zip(*points)
        return process.arrhenius_activation_energy_ev(temperatures, sigmas)


class ElectrolyteBatchInput(LotUse):
    USE = "electrolyte precursor"

    batch = models.ForeignKey(ElectrolyteBatch, on_delete=models.CASCADE, related_name="inputs")
    history = HistoricalRecords()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["batch", "lot"], name="lot_once_per_electrolyte_batch")]

    @property
    def parent_record(self):
        return self.batch


class ElectrolyteBatchStep(ProcessStep):
    batch = models.ForeignKey(ElectrolyteBatch, on_delete=models.CASCADE, related_name="steps")
    history = HistoricalRecords()

    class Meta(ProcessStep.Meta):
        constraints = [models.UniqueConstraint(fields=["batch", "order"], name="step_order_once_per_batch")]


class ConductivityMeasurement(models.Model):
    """Impedance of a pressed pellet at one temperature: σ = thickness ÷ (R · area)."""

    batch = models.ForeignKey(ElectrolyteBatch, on_delete=models.CASCADE, related_name="conductivity_measurements")
    measured_on = models.DateField(null=True, blank=True)
    temperature_c = models.FloatField("temperature (°C)", validators=physical("temperature"))
    pellet_thickness_mm = models.FloatField("pellet thickness (mm)", validators=physical("length_mm"))
    pellet_area_cm2 = models.FloatField("pellet area (cm²)", validators=physical("area"))
    resistance_ohm = models.FloatField("bulk resistance (Ω)", validators=physical("resistance"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["temperature_c", "id"]

    @property
    def conductivity_s_cm(self) -> float:
        return process.ionic_conductivity_s_cm(
            self.pellet_thickness_mm * 1000.0, self.resistance_ohm, self.pellet_area_cm2
        )


class InfiltrationSolution(LabRecord):
    """The precursor salts dissolved in a solvent, e.g. equimolar closo-borates, 100 mg/mL in isopropanol."""

    HUMAN_ID_PREFIX = "IS"

    name = models.CharField(max_length=200, blank=True)
    product = models.ForeignKey(
        Material, on_delete=models.PROTECT, related_name="+",
        help_text="the solid electrolyte the salts crystallise into in the pores",
    )
    solvent_lot = models.ForeignKey(PrecursorLot, on_delete=models.PROTECT, related_name="+")
    solvent_volume_ml = models.FloatField(
        "solvent volume (mL)", validators=physical("volume"),
        help_text="taken from the solvent lot (volume × density); also the solution's own stock",
    )
    prepared_on = models.DateField(null=True, blank=True)
    history = HistoricalRecords()

    STOCK_FIELD, STOCK_UNIT, STOCK_LABEL = "solvent_volume_ml", "mL", "volume"

    class Meta(LabRecord.Meta):
        verbose_name = "infiltration solution"

    def clean(self):
        errors = solvent_problems(self, "solvent_lot", "solvent_volume_ml")
        problem = material_use_problem(self.product if self.product_id else None, "solid electrolyte")
        if problem:
            errors["product"] = problem
        if errors:
            raise ValidationError(errors)

    @property
    def concentration_mg_ml(self) -> float | None:
        solute_mg = sum(i.mass_mg for i in self.inputs.all())
        return solute_mg / self.solvent_volume_ml if solute_mg else None


class InfiltrationSolutionInput(LotUse):
    USE = "salt"

    solution = models.ForeignKey(InfiltrationSolution, on_delete=models.CASCADE, related_name="inputs")
    history = HistoricalRecords()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["solution", "lot"], name="lot_once_per_solution")]

    @property
    def parent_record(self):
        return self.solution


class ElectrodeSheet(LabRecord):
    """A slurry-cast electrode on a current collector foil, from which electrodes are punched."""

    HUMAN_ID_PREFIX = "ES"

    name = models.CharField(max_length=200, blank=True)
    slurry_solvent_lot = models.ForeignKey(
        PrecursorLot, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    slurry_solvent_volume_ml = models.FloatField(
        "slurry solvent volume (mL)", null=True, blank=True, validators=physical("volume"),
        help_text="taken from the solvent lot (volume × density)",
    )
    current_collector = models.CharField(max_length=50, default="Al foil")
    current_collector_areal_mass_mg_cm2 = models.FloatField(
        "current collector areal mass (mg/cm²)", default=0, validators=physical("areal_mass"),
        help_text="subtracted from the mass of loading discs to give the coating mass",
    )
    cast_on = models.DateField(null=True, blank=True)
    drying_temperature_c = models.FloatField("drying temperature (°C)", null=True, blank=True,
        validators=physical("temperature"))
    drying_duration_h = models.FloatField("drying duration (h)", null=True, blank=True, validators=physical("hours"))
    drying_atmosphere = models.CharField(max_length=50, blank=True, default="vacuum")
    coating_thickness_um = models.FloatField(
        "coating thickness (µm)", null=True, blank=True, validators=physical("length_um"),
        help_text="dry coating without the foil",
    )
    history = HistoricalRecords()

    class Meta(LabRecord.Meta):
        verbose_name = "electrode sheet"

    def clean(self):
        errors = solvent_problems(self, "slurry_solvent_lot", "slurry_solvent_volume_ml")
        if errors:
            raise ValidationError(errors)

    # The components are few; these read from a prefetch where the caller made one.
    def _components(self):
        return list(self.components.all())

    @property
    def active_component(self):
        return next((c for c in self._components() if c.role == SheetComponent.Role.ACTIVE), None)

    @property
    def active_material(self):
        component = self.active_component
        return component.lot.material if component else None

    @property
    def active_mass_fraction(self) -> float | None:
        component = self.active_component
        return component.mass_fraction_percent / 100.0 if component else None

    @property
    def composition_label(self) -> str:
        """The lab's way to write it: active:binder:carbon, e.g. 95:2:3."""
        order = list(SheetComponent.Role.values)
        components = sorted(self._components(), key=lambda c: order.index(c.role))
        return ":".join(f"{c.mass_fraction_percent:g}" for c in components)

    @property
    def composite_density_g_cm3(self) -> float | None:
        components = self._components()
        if not components or any(c.lot.material.density_g_cm3 is None for c in components):
            return None
        return process.composite_density_g_cm3(
            [c.mass_fraction_percent / 100.0 for c in components],
            [c.lot.material.density_g_cm3 for c in components],
        )

    def _disc_loadings(self):
        return [d.coating_loading_mg_cm2 for d in self.loading_discs.all()]

    @property
    def areal_loading_mg_cm2(self) -> float | None:
        """Mean coating mass per area over the loading discs (composite, not active only)."""
        loadings = self._disc_loadings()
        return sum(loadings) / len(loadings) if loadings else None

    @property
    def areal_loading_spread_mg_cm2(self) -> float | None:
        loadings = self._disc_loadings()
        if len(loadings) < 2:
            return None
        mean = sum(loadings) / len(loadings)
        return (sum((x - mean) ** 2 for x in loadings) / (len(loadings) - 1)) ** 0.5

    @property
    def active_loading_mg_cm2(self) -> float | None:
        loading, fraction = self.areal_loading_mg_cm2, self.active_mass_fraction
        return loading * fraction if loading is not None and fraction is not None else None

    @property
    def casting_porosity(self) -> float | None:
        loading, density = self.areal_loading_mg_cm2, self.composite_density_g_cm3
        if loading is None or density is None or not self.coating_thickness_um:
            return None
        return process.casting_porosity(loading, 1.0, self.coating_thickness_um, density)


class SheetComponent(models.Model):
    """One ingredient of a sheet's slurry by dry mass fraction; fractions sum to 100 %."""

    class Role(models.TextChoices):
        ACTIVE = "active", "active material"
        BINDER = "binder", "binder"
        CONDUCTIVE_CARBON = "conductive_carbon", "conductive carbon"
        ELECTROLYTE = "electrolyte", "solid electrolyte"
        OTHER = "other", "other"

    sheet = models.ForeignKey(ElectrodeSheet, on_delete=models.CASCADE, related_name="components")
    lot = models.ForeignKey(PrecursorLot, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=20, choices=Role.choices)
    mass_fraction_percent = models.FloatField("mass fraction (%)", validators=physical("percent"))
    mass_mg = models.FloatField(
        "mass taken (mg)", null=True, blank=True, validators=physical("mass"),
        help_text="mass weighed into the slurry; recorded in the lot's ledger",
    )
    history = HistoricalRecords()

    # What a component's lot may be, by its role in the slurry.
    ROLE_USES = {Role.ACTIVE: "active material", Role.BINDER: "binder", Role.CONDUCTIVE_CARBON: "conductive carbon",
                 Role.ELECTROLYTE: "solid electrolyte"}

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["sheet", "lot"], name="lot_once_per_sheet")]

    def __str__(self):
        return f"{self.lot.material} {self.mass_fraction_percent:g} % ({self.get_role_display()})"

    @property
    def parent_record(self):
        return self.sheet

    def clean(self):
        use = self.ROLE_USES.get(self.role)
        problem = lot_use_problem(self.lot if self.lot_id else None, use) if use else None
        if problem:
            raise ValidationError({"lot": problem})


def composition_problems(components) -> list[str]:
    """What is wrong with a sheet's components, given as (role, mass_fraction_percent) pairs:
    the fractions sum to 100 % and exactly one component is the active material."""
    problems = []
    total = sum(fraction for _role, fraction in components)
    if abs(total - 100.0) > 100.0 * process.SUM_TOLERANCE:
        problems.append(f"The mass fractions of the components must sum to 100 %; they sum to {total:g} %.")
    active = sum(1 for role, _fraction in components if role == SheetComponent.Role.ACTIVE)
    if active != 1:
        problems.append(f"A sheet has exactly one component with role 'active'; this one has {active}.")
    return problems


class LoadingDisc(models.Model):
    """A disc punched to weigh the sheet's areal loading (the lab takes four 12 mm discs)."""

    sheet = models.ForeignKey(ElectrodeSheet, on_delete=models.CASCADE, related_name="loading_discs")
    diameter_mm = models.FloatField("diameter (mm)", default=12.0, validators=physical("length_mm"))
    mass_mg = models.FloatField("mass with foil (mg)", validators=physical("mass"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.diameter_mm:g} mm disc, {self.mass_mg:g} mg"

    @property
    def area_cm2(self) -> float:
        return process.disc_area_cm2(self.diameter_mm)

    @property
    def coating_loading_mg_cm2(self) -> float:
        return self.mass_mg / self.area_cm2 - self.sheet.current_collector_areal_mass_mg_cm2


class Electrode(LabRecord):
    """A disc punched from a sheet: what goes into an infiltration run and a cell."""

    HUMAN_ID_PREFIX = "EL"

    sheet = models.ForeignKey(ElectrodeSheet, on_delete=models.PROTECT, related_name="electrodes")
    diameter_mm = models.FloatField("diameter (mm)", default=12.0, validators=physical("length_mm"))
    mass_mg = models.FloatField(
        "mass with foil (mg)", null=True, blank=True, validators=physical("mass"),
        help_text="weighed before infiltration; when empty the sheet's mean loading is used",
    )
    punched_on = models.DateField(null=True, blank=True)
    history = HistoricalRecords()

    @property
    def area_cm2(self) -> float:
        return process.disc_area_cm2(self.diameter_mm)

    @property
    def coating_mass_mg(self) -> float | None:
        if self.mass_mg is not None:
            return self.mass_mg - self.sheet.current_collector_areal_mass_mg_cm2 * self.area_cm2
        loading = self.sheet.areal_loading_mg_cm2
        return loading * self.area_cm2 if loading is not None else None

    @property
    def active_mass_mg(self) -> float | None:
        coating, fraction = self.coating_mass_mg, self.sheet.active_mass_fraction
        return coating * fraction if coating is not None and fraction is not None else None

    @property
    def active_loading_mg_cm2(self) -> float | None:
        active = self.active_mass_mg
        return active / self.area_cm2 if active is not None else None

    @property
    def reference_capacity_mah(self) -> float | None:
        """Active mass × the active material's reference specific capacity: the 1C charge."""
        material = self.sheet.active_material
        active = self.active_mass_mg
        if active is None or material is None or material.reference_specific_capacity_mah_g is None:
            return None
        return process.one_c_current_ma(active, material.reference_specific_capacity_mah_g)


class InfiltrationRun(LabRecord):
    """Electrodes dipped in an infiltration solution, dried and heat treated together."""

    HUMAN_ID_PREFIX = "IR"

    solution = models.ForeignKey(InfiltrationSolution, on_delete=models.PROTECT, related_name="runs")
    performed_on = models.DateField(null=True, blank=True)
    dip_time_min = models.FloatField("dip time (min)", default=10, validators=physical("minutes"))
    solution_volume_ml = models.FloatField(
        "solution used (mL)", null=True, blank=True, validators=physical("volume"),
        help_text="volume of the solution the electrodes were dipped in; taken from the solution's stock",
    )
    history = HistoricalRecords()

    class Meta(LabRecord.Meta):
        verbose_name = "infiltration run"


class InfiltrationDryingStep(ProcessStep):
    run = models.ForeignKey(InfiltrationRun, on_delete=models.CASCADE, related_name="drying_steps")
    history = HistoricalRecords()

    class Meta(ProcessStep.Meta):
        constraints = [models.UniqueConstraint(fields=["run", "order"], name="step_order_once_per_run")]


class InfiltratedElectrode(RulesInClean, models.Model):
    """One electrode of a run: masses before and after, and after pressing thickness and mass."""

    RULES_IN_CLEAN = ("infiltration_adds_mass",)

    run = models.ForeignKey(InfiltrationRun, on_delete=models.CASCADE, related_name="electrodes")
    electrode = models.ForeignKey(Electrode, on_delete=models.PROTECT, related_name="infiltrations")
    mass_before_mg = models.FloatField("mass before (mg)", validators=physical("mass"))
    mass_after_mg = models.FloatField("mass after (mg)", validators=physical("mass"))
    pressing_pressure_mpa = models.FloatField("pressing pressure (MPa)", null=True, blank=True, default=350,
        validators=physical("pressure_mpa"))
    pressed_thickness_um = models.FloatField(
        "pressed coating thickness (µm)", null=True, blank=True, validators=physical("length_um")
    )
    pressed_mass_mg = models.FloatField("pressed mass (mg)", null=True, blank=True, validators=physical("mass"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "electrode"], name="electrode_once_per_run"),
            models.CheckConstraint(
                condition=Q(mass_after_mg__gte=models.F("mass_before_mg")), name="infiltration_adds_mass",
                violation_error_message="The mass after infiltration cannot be below the mass before.",
            ),
        ]

    def clean(self):
        before, after = self.mass_before_mg, self.mass_after_mg
        if before is not None and after is not None and after < before:
            label = self.electrode.human_id if self.electrode_id else "The electrode"
            raise ValidationError({"mass_after_mg": f"{label}: the mass after ({after:g} mg) is below the mass "
                                                    f"before ({before:g} mg); infiltration adds electrolyte."})

    def _foil_mg(self) -> float:
        return self.electrode.sheet.current_collector_areal_mass_mg_cm2 * self.electrode.area_cm2

    @property
    def coating_mass_before_mg(self) -> float:
        return self.mass_before_mg - self._foil_mg()

    @property
    def electrolyte_mass_mg(self) -> float:
        return self.mass_after_mg - self.mass_before_mg

    @property
    def measured_uptake_fraction(self) -> float:
        return process.measured_electrolyte_uptake_fraction(
            self.mass_before_mg, self.mass_after_mg, self.coating_mass_before_mg
        )

    @property
    def expected_uptake_fraction(self) -> float | None:
        sheet = self.electrode.sheet
        porosity, density = sheet.casting_porosity, sheet.composite_density_g_cm3
        concentration = self.run.solution.concentration_mg_ml
        if porosity is None or density is None or concentration is None:
            return None
        return process.expected_electrolyte_uptake_fraction(porosity, concentration, density)

    @property
    def remaining_porosity(self) -> float | None:
        sheet = self.electrode.sheet
        density = sheet.composite_density_g_cm3
        electrolyte = self.run.solution.product.density_g_cm3
        if not self.pressed_thickness_um or density is None or electrolyte is None:
            return None
        pressed_mass = (self.pressed_mass_mg - self._foil_mg()) if self.pressed_mass_mg else None
        coating = self.coating_mass_before_mg
        electrolyte_mg = (pressed_mass - coating) if pressed_mass is not None else self.electrolyte_mass_mg
        mixture = process.coating_electrolyte_density_g_cm3(coating, electrolyte_mg, density, electrolyte)
        return process.pressed_porosity(
            coating, electrolyte_mg, self.electrode.area_cm2, self.pressed_thickness_um, mixture
        )



class AlloyBatch(LabRecord):
    """A counter-electrode alloy ground from metals, e.g. Na-Sn 3:1 (367.5 mg Na + 632.5 mg Sn)."""

    HUMAN_ID_PREFIX = "AL"

    name = models.CharField(max_length=200, blank=True, default="Na-Sn 3:1")
    prepared_on = models.DateField(null=True, blank=True)
    yield_mg = models.FloatField(
        "yield (mg)", null=True, blank=True, validators=physical("mass"),
        help_text="the alloy's own stock; when left empty, the sum of the metals ground into it",
    )
    history = HistoricalRecords()

    STOCK_FIELD, STOCK_UNIT, STOCK_LABEL = "yield_mg", "mg", "yield"

    class Meta(LabRecord.Meta):
        verbose_name = "alloy batch"
        verbose_name_plural = "alloy batches"


class AlloyBatchInput(LotUse):
    USE = "alloy metal"

    batch = models.ForeignKey(AlloyBatch, on_delete=models.CASCADE, related_name="inputs")
    history = HistoricalRecords()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["batch", "lot"], name="lot_once_per_alloy_batch")]

    @property
    def parent_record(self):
        return self.batch
