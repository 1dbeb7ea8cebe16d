"""The starting adequacy list (REGULATIONS.md §4): the UK and the EEA (no restricted transfer) and the
countries with an adequacy decision. Loaded by a data migration and again, idempotently, by the demo;
staff keep it current in the admin (a row they changed is left alone)."""

from __future__ import annotations

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



def adequacy_list_load(model=None) -> int:
    """Add the rows of the starting list that are missing; returns how many were added."""
    if model is None:
        from subprocessors.models import AdequacyDecision as model
    added = 0
    rows = [("GB", "domestic", "Controller's own country; EU adequacy decision for the UK renewed to 2031", "")]
    rows += [(code, "domestic", "EEA member (UK adequacy regulations)", "") for code in EEA]
    rows += [
        (code, "adequacy", f"EU adequacy decision for {name} (recognised by the UK)", notes)
        for code, name, notes in ADEQUACY
    ]
    for country, scope, reference, notes in rows:
        _, created = model.objects.get_or_create(
            country=country, defaults={"scope": scope, "reference": reference, "notes": notes}
        )
        added += created
    return added
