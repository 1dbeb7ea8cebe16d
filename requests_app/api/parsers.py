"""The API's JSON parser: DRF's, with a bound on how deeply a body may nest.

Python's JSON decoder recurses once per array or object: ``"[" * 5000`` raises RecursionError, which DRF
does not expect and Django answers with a 500. Nothing the API accepts nests more than a few levels, so
a body nesting deeper than ``MAX_DEPTH`` is refused with a 400 (deeper than the decoder can go, or
parsed but deep enough to trip whatever walks it next: hashing the body, validating it).
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32
TOO_DEEP = f"JSON parse error: arrays and objects may nest at most {MAX_DEPTH} levels deep."


def nesting_depth(data: Any) -> int:
    """How deeply lists and dicts nest in parsed JSON, walked without recursion."""
    deepest = 0
    pending = [(data, 1)] if isinstance(data, list | dict) else []
    while pending:
        value, depth = pending.pop()
        deepest = max(deepest, depth)
        children = value.values() if isinstance(value, dict) else value
        pending.extend((child, depth + 1) for child in children if isinstance(child, list | dict))
    return deepest


class BoundedJSONParser(JSONParser):
    """JSON bodies of at most ``MAX_DEPTH`` levels; deeper ones are a 400 with a clear message."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        if nesting_depth(data) > MAX_DEPTH:
            raise ParseError(TOO_DEEP)
        return data
