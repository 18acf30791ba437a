from django.db import migrations, models
import django.utils.timezone


class Migration(migrations.Migration):

    dependencies = [
        ("promotion", "0004_alias_state_model_created"),
    ]

    operations = [
        migrations.CreateModel(
            name="AliasWatch",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("started_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
    ]
