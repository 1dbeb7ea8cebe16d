"""How the fulfilment speaks of a person's data to that person: by category and purpose, in plain words.

Letters and the outcomes recorded on a request's lines are read by the requester. They name the data
categories of the policy (§2: "billing and transaction data"), what was done with them, what was kept,
why and until when; never table names, row counts per table, library names or internal references.
"""

from __future__ import annotations

from collections.abc import Iterable

from compliance.models import MappedColumn


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 system``, ``3 systems``."""
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"


def join_words(words: Iterable[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = [word for word in words if word]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def in_sentence(name: str) -> str:
    """A category's name inside a sentence: "Account and identity data" -> "account and identity data",
    but "API and usage data" stays as it is."""
    if len(name) > 1 and name[1].isupper():
        return name
    return name[:1].lower() + name[1:]


def category_names(table_ids: Iterable[int]) -> list[str]:
    """The data categories (policy §2) the columns of these mapped tables hold, in the policy's order."""
    ids = {pk for pk in table_ids if pk}
    if not ids:
        return []
    columns = (
        MappedColumn.objects.filter(table_id__in=ids, data_category__isnull=False)
        .values_list("data_category__name", "data_category__display_order")
        .distinct()
    )
    return [in_sentence(name) for name, _ in sorted(set(columns), key=lambda item: (item[1], item[0]))]


def your_data(table_ids: Iterable[int], fallback: str = "your personal data") -> str:
    """ "your account and identity data and billing and transaction data", or ``fallback``."""
    names = category_names(table_ids)
    return "your " + join_words(names) if names else fallback


def period_words(period: int, unit: str, anchor: str, *, subject_event: bool = False) -> str:
    """A retention rule's period as a person reads it: "for 6 years after the end of the financial year
    it belongs to"."""
    singular = {"days": "day", "months": "month", "years": "year"}.get(unit, unit.rstrip("s"))
    length = plural(period, singular)
    after = {
        "financial_year_end": "after the end of the financial year it belongs to",
        "calendar_year_end": "after the end of the calendar year it belongs to",
    }.get(anchor, "after your account is closed" if subject_event else "after the date of the record")
    return f"for {length} {after}"
