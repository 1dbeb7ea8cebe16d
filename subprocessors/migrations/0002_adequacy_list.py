"""The starting adequacy list (REGULATIONS.md §4). Staff keep it current in the admin."""

from django.db import migrations

from subprocessors.adequacy import adequacy_list_load


def load(apps, schema_editor):
    adequacy_list_load(apps.get_model("subprocessors", "AdequacyDecision"))


class Migration(migrations.Migration):
    dependencies = [("subprocessors", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
