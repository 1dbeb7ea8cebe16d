"""One check for the short texts people read: requester names and letter subjects.

Whatever the way in (admin form, API, a future privacy-center form), the text is
normalised to NFC and loses its invisible format characters (zero-width spaces
and joiners, soft hyphens, byte order marks, directional marks), so what is shown
is what was stored and two spellings of a name compare equal.

Refused, with a message for the person typing:
- bidirectional overrides, embeddings and isolates (U+202A-U+202E, U+2066-U+2069):
  they make text display in another order than it reads ("Trojan Source"), so a
  name or a subject could show staff something other than what it says;
- line breaks and other control characters: a name and a subject are one line,
  and a subject is an email header (a CR/LF in it is a header injection that
  Django refuses at sending time, after the letter was recorded as sent).
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Categories of line and paragraph separators and of control characters (CR, LF, TAB, NUL, ...).
_BREAKING_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


def clean_single_line(value: str | None, *, label: str) -> str:
    """``value`` normalised (NFC, no format characters, no outer spaces); ``ValidationError`` if refused.

    ``label`` names the field in the message ("The name", "The subject"). The
    message never repeats the text itself.
    """
    text = unicodedata.normalize("NFC", value or "")
    if any(char in BIDI_CONTROLS for char in text):
        raise ValidationError(
            f"{label} contains invisible right-to-left or left-to-right override characters, which change how it "
            "is displayed. Retype it without them.",
            code="bidi_control",
        )
    if any(unicodedata.category(char) in _BREAKING_CATEGORIES for char in text):
        raise ValidationError(
            f"{label} must be a single line: remove the line breaks and control characters.", code="line_break"
        )
    return "".join(char for char in text if unicodedata.category(char) != "Cf").strip()


def clean_into(value: str | None, *, field: str, label: str, errors: dict[str, list[str]]) -> str:
    """``clean_single_line``, collecting the refusal under ``field`` in ``errors`` (returns the text unchanged then)."""
    try:
        return clean_single_line(value, label=label)
    except ValidationError as error:
        errors.setdefault(field, []).extend(error.messages)
        return (value or "").strip()
