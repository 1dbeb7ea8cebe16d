"""Logging filters: request lines never carry a search term or a link's token.

Django logs request paths: ``django.server`` (the development server) the whole request line, query
string included (``GET /admin/requests_app/rightsrequest/?q=ana@example.com``), and ``django.request``
every 4xx and 5xx path (``Not Found: /data-export/<token>/``). A search term is personal data; a token
is the credential of a public link (a bundle download, a subscription, an Art. 19 confirmation), and a
log reader must not be able to use it.

``ScrubRequestLines`` rewrites each record's message before any handler sees it: every query value
becomes ``[redacted]`` (names stay, so the log still says what was asked) and the token segment of
every public route becomes ``[token]``. The token routes are read from the URLconf (every route with a
``token`` or ``code`` parameter), so a new public link is covered without a change here.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

TOKEN_PARAMETERS = {"token", "code"}
HIDDEN_TOKEN = "[token]"  # noqa: S105 - the marker that replaces one, not a secret
REDACTED = "[redacted]"

# A query string after a path: "?" then name=value pairs up to a space, a quote or the end.
_QUERY = re.compile(r"(?<=[\w/])\?([^\s\"'<>]+)")
_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")
_SEGMENT = r"[^/?#\s\"'<>]+"
# An absolute address: its origin, then a path or query to cut.
_OTHER_SITE_URL = re.compile(r"(?P<origin>https?://[^/?#\s\"'<>]+)[/?#][^\s\"'<>]*")


def _route_regex(route: str) -> str:
    """A route such as ``data-export/<str:token>/`` as a regex whose token parameters are groups.

    It ends with the last token, so the path matches with or without what follows (a missing slash).
    """
    parts = []
    position = 0
    for match in _PARAMETER.finditer(route):
        parts.append(re.escape(route[position : match.start()]))
        is_token = match["name"] in TOKEN_PARAMETERS
        parts.append(f"(?P<token{len(parts)}>{_SEGMENT})" if is_token else _SEGMENT)
        position = match.end()
        if is_token:
            last = len(parts)
    return "".join(parts[:last])


def _walk(entries, prefix: str, found: list[str]) -> None:
    from django.urls import URLResolver
    from django.urls.resolvers import RoutePattern

    for entry in entries:
        pattern = entry.pattern
        if not isinstance(pattern, RoutePattern):
            continue  # regex routes (parts of the admin) carry no public token
        route = prefix + str(pattern)
        if isinstance(entry, URLResolver):
            _walk(entry.url_patterns, route, found)
        elif any(match["name"] in TOKEN_PARAMETERS for match in _PARAMETER.finditer(route)):
            found.append(route)


@lru_cache(maxsize=1)
def token_routes() -> re.Pattern[str] | None:
    """One regex matching the path of every public route that carries a token, or None if there is none."""
    from django.urls import get_resolver

    routes: list[str] = []
    _walk(get_resolver().url_patterns, "", routes)
    if not routes:
        return None
    alternatives = []
    for index, route in enumerate(sorted(routes)):
        # Group names must be unique across the alternatives.
        alternatives.append(_route_regex(route).replace("(?P<token", f"(?P<r{index}_token"))
    return re.compile("/(?:" + "|".join(alternatives) + ")")


def _redact_query(match: re.Match[str]) -> str:
    pairs = [pair.split("=", 1)[0] + "=" + REDACTED if pair else pair for pair in match.group(1).split("&")]
    return "?" + "&".join(pairs)


def _redact_tokens(match: re.Match[str]) -> str:
    text = match.group(0)
    start = match.start()
    spans = sorted(
        (match.span(name) for name, value in match.groupdict().items() if value is not None and "token" in name),
        reverse=True,
    )
    for begin, end in spans:
        text = text[: begin - start] + HIDDEN_TOKEN + text[end - start :]
    return text


def scrub(text: str) -> str:
    """``text`` with query values and public link tokens replaced."""
    text = _QUERY.sub(_redact_query, text)
    try:
        routes = token_routes()
    except Exception:  # the URLconf cannot load (start-up): keep the query scrub, add nothing broken
        return text
    if routes is not None:
        text = routes.sub(_redact_tokens, text)
    return text


class ConciseRefusals(logging.Filter):
    """An expected refusal is one line: no traceback for a 4xx response.

    Django logs a ``PermissionDenied`` (403), a ``BadRequest`` and every ``SuspiciousOperation`` (400: a
    forged Host header, too many fields, a suspicious session...) with the exception's whole traceback, one
    per refusal; a CSRF failure (``django.security.csrf``) is already one line. A refusal is the application
    working: the line (``Forbidden (Permission denied): /admin/...``) says what happened, and a traceback
    only buries real errors and can carry an exception's text. A 5xx keeps its traceback.

    A CSRF refusal names the other site's ``Referer`` (``Referer checking failed - <url> does not match
    any trusted origins.``): only its origin is kept, the rest of that address being another site's path
    and query. Never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if (
            isinstance(status, int)
            and 400 <= status < 500
            and (record.name == "django.request" or record.name.startswith("django.security"))
        ):
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
            if record.name.startswith("django.security"):
                try:
                    message = record.getMessage()
                except Exception:  # a malformed record: leave it to the handler's own error reporting
                    return True
                cleaned = _OTHER_SITE_URL.sub(r"\g<origin>/...", message)
                if cleaned != message:
                    record.msg = cleaned
                    record.args = ()
        return True


class ScrubRequestLines(logging.Filter):
    """Rewrites a record's message (see the module docstring); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler's own error reporting
            return True
        cleaned = scrub(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = ()
        return True
