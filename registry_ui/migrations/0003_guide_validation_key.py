"""Installs seeded before issue 16 required `validation_ndcg_at_10` (derived from the gate metric); the
operations guide's key is `validation_ndcg`. Rename the seeded row unless an admin already changed it."""

from django.db import migrations

OLD, NEW = "validation_ndcg_at_10", "validation_ndcg"
SEEDED_DESCRIPTION = "Validation value of the gate metric"


def forwards(apps, schema_editor):
    RequiredMetadataKey = apps.get_model("registry_ui", "RequiredMetadataKey")
    if RequiredMetadataKey.objects.filter(key=NEW).exists():
        return
    RequiredMetadataKey.objects.filter(key=OLD, description=SEEDED_DESCRIPTION).update(
        key=NEW, description="Validation NDCG of the version (the operations guide's key)"
    )


class Migration(migrations.Migration):
    dependencies = [("registry_ui", "0002_default_word_lists")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
