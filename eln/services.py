"""Writes of lab records: the one engine under every service.

A service names what the lab does (``cell_build``, ``infiltration_run_record``) and hands the
engine a ``RecordSpec``: the record's child rows and their natural keys, the rules that look at
the record with its rows, and what the record takes from stock. ``record_save`` then, in one
transaction:

1. applies the fields and validates the record (``full_clean``: field validators and the
   model's ``clean``, where the rules of a single record live);
2. matches each child set given by its natural key: rows not given are removed, unchanged rows
   keep their id, their history and their ledger lines, every row is validated;
3. runs the spec's rules over the record with its rows;
4. checks that every lab record referenced, by the record or a row, is of the record's project;
5. checks what the record takes from stock, with the holders locked;
6. raises one ``ValidationError`` naming every problem by field, or writes everything;
7. announces what changed (``eln.signals.records_changed``), so that results computed from it
   are recomputed once, after the commit.

The API, the admin, the pages, the CSV import, the demo loader and the tasks all come through
here; none of them holds a rule of its own.
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any, Callable

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction
from django.db.models import ProtectedError, RestrictedError

from eln.models import LabRecord, Project, ProjectMembership
from eln.signals import records_changed

# Rows and records a user never writes: the engine fills them in.
WRITTEN_BY_ENGINE = ("human_id", "created_by", "modified_by", "created_at", "modified_at")


@dataclasses.dataclass(frozen=True)
class ChildSet:
    """Child rows written with their record, e.g. a sheet's components.

    ``key`` names the fields that tell one row from another (a component by its lot, a step by
    its order, a part by its role); an empty key matches rows by their position. A row given
    with the ``id`` of an existing row is matched to it whatever its key.
    """

    model: type[models.Model]
    parent_field: str
    key: tuple[str, ...] = ()
    only: dict[str, Any] = dataclasses.field(default_factory=dict)  # rows of the set among the model's rows


@dataclasses.dataclass(frozen=True)
class Use:
    """A quantity a record (or one of its rows, the ``source``) takes from a stock holder;
    ``field`` is where a problem with it is shown (a child set or the record's field)."""

    holder: models.Model
    quantity: float
    source: models.Model
    field: str


@dataclasses.dataclass(frozen=True)
class RecordSpec:
    model: type[models.Model]
    children: dict[str, ChildSet] = dataclasses.field(default_factory=dict)
    # rules(record, rows by child set) -> {field: [messages]}: the rules that need the rows
    rules: Callable[[Any, dict[str, list]], dict[str, list[str]]] | None = None
    # uses(record, rows by child set) -> [Use]: what it takes from stock
    uses: Callable[[Any, dict[str, list]], list[Use]] | None = None
    ledger: Any = None  # the stock ledger that checks and writes uses (samples.stock.LEDGER)


SPECS: dict[type, RecordSpec] = {}


def register(spec: RecordSpec) -> RecordSpec:
    """Make ``spec`` the way records of its model are written (and deleted)."""
    SPECS[spec.model] = spec
    return spec


def spec_for(model) -> RecordSpec:
    try:
        return SPECS[model]
    except KeyError:
        raise LookupError(f"no service writes {model.__name__} records") from None


class Problems:
    """Messages collected by field, raised together."""

    def __init__(self):
        self.by_field: dict[str, list[str]] = defaultdict(list)

    def add(self, field: str | None, messages) -> None:
        if isinstance(messages, str):
            messages = [messages]
        for message in messages:
            if message not in self.by_field[field or NON_FIELD_ERRORS]:
                self.by_field[field or NON_FIELD_ERRORS].append(message)

    def add_error(self, error: ValidationError, *, field: str | None = None) -> None:
        if field is not None or not hasattr(error, "error_dict"):
            self.add(field, error.messages)
            return
        for name, messages in error.message_dict.items():
            self.add(name, messages)

    def __bool__(self):
        return bool(self.by_field)

    def raise_if_any(self):
        if self.by_field:
            raise ValidationError(dict(self.by_field))


def concrete_values(instance: models.Model) -> dict[str, Any]:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def stored_values(instance: models.Model) -> dict[str, Any]:
    """The row as it is in the database now (locked until the transaction ends)."""
    model = type(instance)
    names = [field.attname for field in model._meta.concrete_fields]
    row = model._default_manager.select_for_update().filter(pk=instance.pk).values(*names).first()
    return row or {}


def changed_fields(instance: models.Model, before: dict[str, Any]) -> set[str]:
    """Names of the fields whose value differs from ``before`` (all of them for a new row)."""
    return {field.name for field in instance._meta.concrete_fields
            if field.attname not in WRITTEN_BY_ENGINE and field.name not in WRITTEN_BY_ENGINE
            and (not before or getattr(instance, field.attname) != before.get(field.attname))
            and not field.primary_key}


def _clean(instance, problems: Problems, *, exclude=(), prefix_field: str | None = None) -> None:
    try:
        instance.full_clean(exclude=[*WRITTEN_BY_ENGINE, *exclude], validate_constraints=False)
    except ValidationError as error:
        problems.add_error(error, field=prefix_field)


def _describe_key(child: ChildSet, values: tuple) -> str:
    parts = []
    for name, value in zip(child.key, values):
        label = getattr(value, "human_id", None) or (str(value) if isinstance(value, models.Model) else None)
        parts.append(label or f"{name} {value}")
    return ", ".join(parts)


@dataclasses.dataclass
class ChildPlan:
    rows: list  # the set as it will be: existing rows (changed in memory) and new ones, in order
    saving: list  # rows to save: new or changed
    removing: list  # existing rows not given again
    fields: set  # names of the fields that changed, over all rows ("row" when rows came or went)


def _comparable(value):
    return value.pk if isinstance(value, models.Model) else value


def _data_key(child: ChildSet, data: dict) -> tuple:
    return tuple(_comparable(data.get(name)) for name in child.key)


def _row_key(child: ChildSet, row) -> tuple:
    return tuple(getattr(row, child.model._meta.get_field(name).attname) for name in child.key)


def _plan_children(name: str, child: ChildSet, parent, given: list[dict], problems: Problems) -> ChildPlan:
    existing = list(child.model._default_manager.filter(**{child.parent_field: parent}, **child.only)
                    .order_by("pk")) if parent.pk else []
    by_id = {row.pk: row for row in existing}
    by_key = {_row_key(child, row): row for row in existing} if child.key else {}
    matched: set[int] = set()
    seen: dict[tuple, int] = {}
    rows, saving, fields = [], [], set()
    positional = iter(existing) if not child.key else iter(())
    for data in given:
        data = dict(data)
        row_id = data.pop("id", None)
        match = by_id.get(row_id) if row_id is not None else None
        if child.key:
            key = _data_key(child, data)
            if key in seen:
                problems.add(name, f"{_describe_key(child, tuple(data.get(n) for n in child.key))} is listed twice.")
                continue
            seen[key] = len(rows)
            if match is None:
                match = by_key.get(key)
        elif match is None:
            match = next((row for row in positional if row.pk not in matched), None)
        if match is not None and match.pk in matched:
            match = None
        row = match if match is not None else child.model(**{child.parent_field: parent})
        before = concrete_values(row) if match is not None else {}
        if match is not None:
            matched.add(match.pk)
        for field_name, value in data.items():
            setattr(row, field_name, value)
        changed = changed_fields(row, before) - {child.parent_field}
        if match is None or changed:
            saving.append(row)
            fields |= changed if match is not None else {"row"}
        _clean(row, problems, exclude=[child.parent_field], prefix_field=name)
        rows.append(row)
    removing = [row for row in existing if row.pk not in matched]
    if removing:
        fields.add("row")
    return ChildPlan(rows=rows, saving=saving, removing=removing, fields=fields)


def _project_of(instance):
    return getattr(instance, "project_id", None)


def foreign_project_problems(record, rows_by_set: dict[str, list]) -> Problems:
    """Every lab record referenced by ``record`` or one of its rows must be of its project:
    shared lab data (materials, cyclers) is everybody's, another project's lot is not."""
    problems = Problems()
    project_id = _project_of(record)
    if project_id is None:
        return problems
    checks = [(None, record)] + [(name, row) for name, rows in rows_by_set.items() for row in rows]
    for set_name, obj in checks:
        for field in obj._meta.concrete_fields:
            target_model = getattr(field, "related_model", None)
            if not (field.is_relation and field.many_to_one and target_model is not None
                    and issubclass(target_model, LabRecord)):
                continue
            if getattr(obj, field.attname) is None or field.name == "project":
                continue
            target = getattr(obj, field.name)
            if target is record or target.project_id == project_id:
                continue
            here = Project.objects.filter(pk=project_id).values_list("name", flat=True).first()
            problems.add(set_name or field.name,
                         f"{target.human_id} belongs to project {target.project.name!r}; records of project "
                         f"{here!r} can only use records of their own project.")
    return problems


def _remove_row(name: str, row) -> None:
    """Delete a child row left out of its set; one that other records depend on stays, and
    the refusal names them."""
    try:
        with transaction.atomic():
            row.delete()
    except (ProtectedError, RestrictedError) as error:
        dependents = sorted({str(obj) for obj in getattr(error, "protected_objects", None)
                             or getattr(error, "restricted_objects", ())})[:10]
        raise ValidationError({name: [f"{row} cannot be removed: it is used by {', '.join(dependents)}."]}) from None


def _history_user(instance, user) -> None:
    if user is not None and getattr(user, "is_authenticated", False):
        instance._history_user = user


def record_save(spec: RecordSpec, *, user, record, fields: dict | None = None,
                children: dict[str, list[dict]] | None = None, reason: str = ""):
    """Create or change ``record`` (an unsaved instance, or a stored one) with ``fields`` and its
    child sets (each given whole, in ``children`` or among ``fields`` by the set's name; a set
    not given, or given as None, stays as it is)."""
    fields, children = dict(fields or {}), dict(children or {})
    for name in spec.children:
        if name in fields:
            rows = fields.pop(name)
            if rows is not None:
                children[name] = rows
    unknown = set(children) - set(spec.children)
    if unknown:
        raise TypeError(f"{spec.model.__name__} has no child rows {sorted(unknown)}")
    with transaction.atomic():
        creating = record.pk is None
        before = {} if creating else stored_values(record)
        for name, value in fields.items():
            setattr(record, name, value)
        if isinstance(record, LabRecord) and user is not None and getattr(user, "is_authenticated", False):
            if creating:
                record.created_by = user
            record.modified_by = user
        problems = Problems()
        _clean(record, problems)
        if (not creating and isinstance(record, LabRecord)
                and before.get("project_id") is not None and record.project_id != before["project_id"]):
            problems.add("project", "A record cannot move to another project.")
        plans = {name: _plan_children(name, spec.children[name], record, rows, problems)
                 for name, rows in children.items()}
        rows_by_set = {}
        for name, child in spec.children.items():
            if name in plans:
                rows_by_set[name] = plans[name].rows
            elif record.pk:
                rows_by_set[name] = list(child.model._default_manager.filter(
                    **{child.parent_field: record}, **child.only).order_by("pk"))
            else:
                rows_by_set[name] = []
        if not problems and spec.rules:
            for field, messages in spec.rules(record, rows_by_set).items():
                problems.add(field, messages)
        if not problems:  # rows kept as they were were checked when they were written
            problems_elsewhere = foreign_project_problems(record, {n: plan.saving for n, plan in plans.items()})
            for field, messages in problems_elsewhere.by_field.items():
                problems.add(field, messages)
        uses = spec.uses(record, rows_by_set) if (spec.uses and not problems) else []
        lines = []
        if spec.ledger is not None:
            # The lines the record and its rows (also those being removed) hold now.
            lines = spec.ledger.lines_of([record] + [row for rows in rows_by_set.values() for row in rows]
                                        + [row for plan in plans.values() for row in plan.removing])
            if not problems:
                for field, messages in spec.ledger.problems(record, uses, lines).items():
                    problems.add(field, messages)
        problems.raise_if_any()

        changed = changed_fields(record, before) - {"project"} if not creating else {"record"}
        child_changes = {name: plan.fields for name, plan in plans.items() if plan.fields}
        if creating or changed or child_changes:  # a change of its rows is a change of the record
            _history_user(record, user)
            if reason:
                record._change_reason = reason
            record.save()
        for name, plan in plans.items():
            for row in plan.removing:
                _history_user(row, user)
                _remove_row(name, row)
            for row in plan.saving:
                setattr(row, spec.children[name].parent_field, record)
                _history_user(row, user)
                row.save()
        if spec.ledger is not None:
            spec.ledger.write(record, uses, lines, user=user)
        if creating or changed or child_changes:
            records_changed.send(sender=type(record), record=record, created=creating, deleted=False,
                                 fields=frozenset(changed), children={k: frozenset(v) for k, v in child_changes.items()})
    return record


def record_delete(*, user, record) -> None:
    """Delete a record with its rows, giving back what they took from stock. A record others
    depend on is not deleted (ProtectedError, which the API answers with 409)."""
    spec = spec_for(type(record))
    with transaction.atomic():
        stored_values(record)  # lock it
        rows = [row for name, child in spec.children.items()
                for row in child.model._default_manager.filter(**{child.parent_field: record}, **child.only)]
        if spec.ledger is not None:
            spec.ledger.write(record, [], spec.ledger.lines_of([record, *rows]), user=user)
        _history_user(record, user)
        records_changed.send(sender=type(record), record=record, created=False, deleted=True,
                             fields=frozenset({"record"}), children={})
        record.delete()


# --- projects ------------------------------------------------------------------------------

PROJECT = register(RecordSpec(Project, children={"memberships": ChildSet(ProjectMembership, "project", key=("user",))}))


def project_create(*, user, name: str, description: str = "", memberships=None) -> Project:
    """A new project with its ``memberships`` (user and role); who makes it is its manager."""
    memberships = list(memberships or [])
    if user is not None and not any(row["user"] == user for row in memberships):
        memberships.append({"user": user, "role": ProjectMembership.Role.MANAGER})
    return record_save(PROJECT, user=user, record=Project(), fields={"name": name, "description": description},
                       children={"memberships": memberships})


def project_update(*, user, project: Project, memberships=None, **fields) -> Project:
    children = {"memberships": memberships} if memberships is not None else {}
    return record_save(PROJECT, user=user, record=project, fields=fields, children=children)
