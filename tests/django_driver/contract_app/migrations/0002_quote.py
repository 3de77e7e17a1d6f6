from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("contract_app", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="Quote",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "workflow_machine",
                    models.CharField(blank=True, default=None, max_length=100, null=True),
                ),
                ("workflow_state", models.JSONField(blank=True, default=None, null=True)),
                ("workflow_context", models.JSONField(blank=True, default=None, null=True)),
                ("workflow_version", models.IntegerField(default=0)),
                (
                    "status",
                    models.CharField(
                        blank=True, db_index=True, default=None, max_length=64, null=True
                    ),
                ),
                ("reference", models.CharField(max_length=40)),
            ],
            options={"abstract": False},
        ),
    ]
