"""Cells that spreadsheet programs will not run as formulas (CSV injection, OWASP).

One list of the characters a formula can start with, for the admin's CSV exports and the connectors'
export files alike.
"""

from __future__ import annotations

FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    """A cell value that spreadsheet programs will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text
