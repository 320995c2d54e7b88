"""A process row that took stock gives it back when it is deleted, however it is deleted
(replaced through the API, removed in the admin, or with its record)."""
from django.contrib.contenttypes.models import ContentType
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from samples.models import LotUse, SheetComponent, StockMovement


@receiver(pre_delete)
def give_stock_back(sender, instance, **kwargs):
    if isinstance(instance, (LotUse, SheetComponent)):
        StockMovement.objects.filter(
            source_type=ContentType.objects.get_for_model(instance), source_id=instance.pk
        ).delete()
