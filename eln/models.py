"""The shared core: projects and who may do what in them, and the base of every lab record."""
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.db import models, transaction
from simple_history.models import HistoricalRecords


# What a measured number of the lab can be, by what it measures: (lowest, highest, unit).
# Beyond these a number is a typing slip or an attack (1e308 mm), refused with the field named.
PHYSICAL_RANGES = {
    "mass": (0.0, 1e9, "mg"),  # up to a tonne
    "volume": (1e-9, 1e6, "mL"),
    "length_mm": (1e-6, 1e3, "mm"),
    "length_um": (1e-6, 1e5, "µm"),
    "area": (1e-9, 1e4, "cm²"),
    "areal_mass": (0.0, 1e3, "mg/cm²"),
    "density": (1e-9, 30.0, "g/cm³"),
    "molar_mass": (1e-9, 1e7, "g/mol"),
    "specific_capacity": (0.0, 1e4, "mAh/g"),
    "electrons": (0.0, 100.0, "per formula unit"),
    "resistance": (1e-12, 1e15, "Ω"),
    "pressure_mbar": (0.0, 1e7, "mbar"),
    "pressure_mpa": (0.0, 1e5, "MPa"),
    "minutes": (0.0, 1e7, "min"),
    "hours": (0.0, 1e6, "h"),
    "temperature": (-273.15, 5000.0, "°C"),
    "voltage": (-20.0, 20.0, "V"),
    "c_rate": (1e-6, 1e4, "C"),
    "angle": (0.0, 180.0, "°"),
    "percent": (0.0, 100.0, "%"),
}


@deconstructible
class PhysicalRange:
    """A number within the range a measurement of ``kind`` can have (PHYSICAL_RANGES); the
    message names the bound and its unit, the same wherever the number is entered."""

    def __init__(self, kind: str):
        self.kind = kind

    def __call__(self, value):
        low, high, unit = PHYSICAL_RANGES[self.kind]
        if value is None:
            return
        if not low <= value:  # also refuses NaN
            raise ValidationError(f"Ensure this value is at least {low:g} {unit}.", code="min_value")
        if not value <= high:
            raise ValidationError(f"Ensure this value is at most {high:g} {unit}.", code="max_value")

    def __eq__(self, other):
        return isinstance(other, PhysicalRange) and other.kind == self.kind


def physical(kind: str) -> list:
    """Validators keeping a field within the range a measurement of ``kind`` can have."""
    return [PhysicalRange(kind)]


class RulesInClean:
    """For models whose database constraints back up rules that ``clean`` (or the record's
    service) states with the values involved: validation reports that message only, and the
    database still refuses what slips past. ``RULES_IN_CLEAN`` names those constraints."""

    RULES_IN_CLEAN: tuple[str, ...] = ()

    def get_constraints(self):
        return [(model, [c for c in constraints if c.name not in self.RULES_IN_CLEAN])
                for model, constraints in super().get_constraints()]


class Project(models.Model):
    """A group of records with its members. Every lab record belongs to one project."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="ProjectMembership", related_name="projects"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ProjectMembership(models.Model):
    class Role(models.TextChoices):
        READER = "reader", "reader (sees records)"
        WRITER = "writer", "writer (sees and changes records)"
        MANAGER = "manager", "manager (writer who also manages members)"

    WRITING_ROLES = (Role.WRITER, Role.MANAGER)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.WRITER)
    history = HistoricalRecords()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user")]

    def __str__(self):
        return f"{self.user} in {self.project} ({self.role})"

    @property
    def can_write(self) -> bool:
        return self.role in self.WRITING_ROLES


class HumanIdCounter(models.Model):
    """The last number handed out for a prefix such as CELL; numbers are never reused."""

    prefix = models.CharField(max_length=8, primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    @classmethod
    def next_id(cls, prefix: str) -> str:
        with transaction.atomic():
            counter, _ = cls.objects.select_for_update().get_or_create(prefix=prefix)
            counter.last_number += 1
            counter.save(update_fields=["last_number"])
        return f"{prefix}-{counter.last_number:04d}"


class LabRecord(models.Model):
    """Base of every record a researcher makes: project, label id, who and when, history.

    Concrete models set ``HUMAN_ID_PREFIX`` (the id printed on labels, e.g. CELL-0042) and
    declare ``history = HistoricalRecords()`` so every change is kept with who made it.
    """

    HUMAN_ID_PREFIX = ""

    human_id = models.CharField("ID", max_length=20, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="+")
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", editable=False,
    )
    modified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", editable=False,
    )

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    def save(self, *args, **kwargs):
        if not self.human_id:
            self.human_id = HumanIdCounter.next_id(self.HUMAN_ID_PREFIX)
        super().save(*args, **kwargs)

    def __str__(self):
        label = getattr(self, "name", "") or ""
        return f"{self.human_id} {label}".strip()


# Notebook entries, what they mention and their attachments (eln/notebook/).
from eln.notebook.models import NotebookAttachment, NotebookEntry, NotebookMention  # noqa: E402,F401

# API tokens and failed logins (eln/security/).
from eln.security.models import ApiToken, LoginFailure  # noqa: E402,F401
