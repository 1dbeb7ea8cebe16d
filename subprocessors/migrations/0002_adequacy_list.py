"""The starting adequacy list (REGULATIONS.md §4). Staff keep it current in the admin."""

from django.db import migrations

EEA = [
    "AT",
    "BE",
    "BG",
    "HR",
    "CY",
    "CZ",
    "DK",
    "EE",
    "FI",
    "FR",
    "DE",
    "GR",
    "HU",
    "IE",
    "IT",
    "LV",
    "LT",
    "LU",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SK",
    "SI",
    "ES",
    "SE",
    "IS",
    "LI",
    "NO",
]
ADEQUACY = [
    ("CH", "Switzerland", ""),
    ("CA", "Canada", "Commercial organisations subject to PIPEDA only."),
    ("JP", "Japan", ""),
    ("KR", "South Korea", ""),
    ("IL", "Israel", ""),
    ("NZ", "New Zealand", ""),
    ("AR", "Argentina", ""),
    ("UY", "Uruguay", ""),
    ("AD", "Andorra", ""),
    ("FO", "Faroe Islands", ""),
    ("GG", "Guernsey", ""),
    ("JE", "Jersey", ""),
    ("IM", "Isle of Man", ""),
    ("BR", "Brazil", "EU adequacy decision of 2026."),
]


def load(apps, schema_editor):
    AdequacyDecision = apps.get_model("subprocessors", "AdequacyDecision")
    AdequacyDecision.objects.get_or_create(
        country="GB",
        defaults={
            "scope": "domestic",
            "reference": "Controller's own country; EU adequacy decision for the UK renewed to 2031",
        },
    )
    for code in EEA:
        AdequacyDecision.objects.get_or_create(
            country=code, defaults={"scope": "domestic", "reference": "EEA member (UK adequacy regulations)"}
        )
    for code, name, notes in ADEQUACY:
        AdequacyDecision.objects.get_or_create(
            country=code,
            defaults={
                "scope": "adequacy",
                "reference": f"EU adequacy decision for {name} (recognised by the UK)",
                "notes": notes,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("subprocessors", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
