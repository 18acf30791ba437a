"""Default naming-lint word lists and required version metadata (editable afterwards). The required keys
are the operations guide's (its "Model Version Metadata Management" section)."""

from django.db import migrations

from registry_ui.naming import DEFAULT_ALGORITHM_WORDS, DEFAULT_RESERVED_WORDS


def seed(apps, schema_editor):
    NamingWord = apps.get_model("registry_ui", "NamingWord")
    RequiredMetadataKey = apps.get_model("registry_ui", "RequiredMetadataKey")
    for word in DEFAULT_ALGORITHM_WORDS:
        NamingWord.objects.get_or_create(word=word, defaults={"kind": "algorithm"})
    for word in DEFAULT_RESERVED_WORDS:
        NamingWord.objects.get_or_create(word=word, defaults={"kind": "reserved"})
    keys = [
        ("training_data", "Where the training data lives (e.g. s3://data/query-logs/2026-q1/)"),
        ("training_commit", "Git commit of the training code"),
        ("validation_ndcg", "Validation NDCG of the version (the operations guide's key)"),
        ("approved_by", "Written by the approval workflow"),
        ("approval_date", "Written by the approval workflow"),
    ]
    for position, (key, description) in enumerate(keys, start=1):
        RequiredMetadataKey.objects.get_or_create(key=key, defaults={"description": description,
                                                                     "position": position})


class Migration(migrations.Migration):
    dependencies = [("registry_ui", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
