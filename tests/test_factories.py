"""Every kind of row the lab keeps can be made in a test: a record type by its factory, a child
row with its record, a result by ingesting a dataset."""
import inspect

import factory
import pytest
from django.apps import apps

from analysis import models as results
from eln import services
from eln.models import HumanIdCounter
from tests import factories

pytestmark = pytest.mark.django_db

FACTORIES = [value for value in vars(factories).values()
             if inspect.isclass(value) and issubclass(value, factory.django.DjangoModelFactory)
             and not value._meta.abstract]
RESULTS = (results.ProcessingStage, results.CycleStep, results.CycleSummary, results.CellMetrics,
           results.QualityFlag)
# a three-electrode dataset's, besides (its fade prediction's rows need half cells with data:
# tests/cells/test_three_electrode_api.py)
THREE_ELECTRODE_RESULTS = (results.ElectrodeAnalysis, results.ElectrodeCycle, results.ElectrodePotentialRange,
                           results.ElectrodeBranchFit, results.DegradationModeCycle, results.CellDiagnosis,
                           results.FadePrediction)


def test_every_model_is_made_by_a_factory_with_its_record_or_by_ingestion():
    made_by_factory = {f._meta.model for f in FACTORIES}
    child_rows = {child.model for spec in services.SPECS.values() for child in spec.children.values()}
    unmade = [model.__name__ for app in ("eln", "samples", "cells", "analysis")
              for model in apps.get_app_config(app).get_models()
              if not model.__name__.startswith("Historical")
              and model not in made_by_factory | child_rows | set(RESULTS) | set(THREE_ELECTRODE_RESULTS)
              | {results.FadePredictionCycle, HumanIdCounter}]
    assert unmade == []
    assert set(services.SPECS) <= made_by_factory  # every record a service writes


@pytest.mark.parametrize("make", FACTORIES, ids=lambda f: f.__name__)
def test_each_factory_makes_a_stored_record(make):
    record = make()
    assert type(record).objects.filter(pk=record.pk).exists()


def test_an_ingested_dataset_has_its_results():
    dataset = factories.DatasetFactory(ingested=True)
    assert dataset.state == "done", dataset.message
    # the two 0.1C cycles of cycling_file(): 118.0 mAh/g at 95.2 %
    assert dataset.cycles.count() == 2
    metrics = results.CellMetrics.objects.get(cell=dataset.run.cell)
    assert metrics.first_cycle_efficiency == pytest.approx(0.952, abs=1e-3)
    for model in RESULTS:
        if model is results.QualityFlag:
            continue  # a clean file has none (below)
        assert model.objects.filter(**({"cell": dataset.run.cell} if model is results.CellMetrics
                                       else {"dataset": dataset})).exists(), model.__name__
    assert not results.QualityFlag.objects.filter(dataset=dataset).exists()


def test_an_ingested_three_electrode_dataset_has_its_results():
    dataset = factories.three_electrode_dataset()
    assert dataset.state == "done", dataset.message
    assert dataset.electrode_cycles.count() == 4  # 2 cycles × 2 electrodes
    cell = dataset.run.cell
    for model in THREE_ELECTRODE_RESULTS:
        assert model.objects.filter(**({"cell": cell} if model in (results.CellDiagnosis, results.FadePrediction)
                                       else {"dataset": dataset})).exists(), model.__name__
