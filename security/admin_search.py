"""Admin searches keep their terms out of URLs.

A search term is often personal data: staff find a rights request by the requester's email address or
name, a subscriber by address, a login by name. Django's admin searches with ``GET ?q=<term>``, so the
term lands in the web server's access log, the browser's history and the ``Referer`` of the next page.

Here the search box posts the term (with its CSRF token). The list keeps the term in the staff member's
session under a random token and redirects to ``?s=<token>``; every link the list draws (pages, sorting,
filters, the date range form, the way back from a record, the CSV exports) carries the token, never the
term. A token means something only in the session that made it: another login, or the same person after
signing out or an idle timeout, is told the search has expired and searches again. A ``?q=`` link (an old
bookmark, a typed address) still works: it is stored and redirected the same way.

The admin site (``compliance.admin_site``) adds ``SavedSearchAdminMixin`` to every ModelAdmin, those of
Django and third-party apps included (``settings.ADMIN_MODEL_ADMIN_MIXINS``).
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib import messages
from django.contrib.admin.views.main import PAGE_VAR, SEARCH_VAR, ChangeList, ChangeListSearchForm
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict

SAVED_SEARCH_VAR = "s"
SEARCH_POSTED = "_search"  # the hidden field that tells a search post from an action's
SESSION_KEY = "admin_saved_searches"
MAX_SAVED_SEARCHES = 20  # per session; the oldest is forgotten first
EXPIRED_MESSAGE = "That search has expired (searches last as long as your sign-in). Search again."


def saved_search_token(request: HttpRequest, term: str) -> str:
    """The token of ``term`` in this session (the same token for the same term), saving it if new."""
    saved: dict[str, str] = dict(request.session.get(SESSION_KEY, {}))
    token = next((key for key, value in saved.items() if value == term), None)
    if token is None:
        token = secrets.token_urlsafe(9)
    saved.pop(token, None)
    saved[token] = term  # last: the most recently used
    while len(saved) > MAX_SAVED_SEARCHES:
        saved.pop(next(iter(saved)))
    request.session[SESSION_KEY] = saved
    return token


def saved_search_term(request: HttpRequest, token: str) -> str | None:
    """The term this session saved under ``token``, or None (unknown, another session's, expired)."""
    saved = getattr(request, "session", {}).get(SESSION_KEY, {})
    term = saved.get(token)
    return term if isinstance(term, str) else None


class _SavedTermSearchForm(ChangeListSearchForm):
    """Django's search form, bound to the saved term (``term``, set per list) instead of the query string's ``q``."""

    term = ""

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__({SEARCH_VAR: self.term}, *args, **kwargs)


class SavedSearchChangeList(ChangeList):
    """A change list searching by the term saved under ``?s=<token>``; its links carry the token."""

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        token = request.GET.get(SAVED_SEARCH_VAR)
        self.search_expired = False
        if token is not None:
            term = saved_search_term(request, token)
            if term is None:
                self.search_expired = True  # an export never widens to the whole table
                term = ""
        else:
            term = request.GET.get(SEARCH_VAR, "")
        self.search_form_class = type("SavedTermSearchForm", (_SavedTermSearchForm,), {"term": term})
        super().__init__(request, *args, **kwargs)
        # Where the search box posts, and the "clear search" link: this list, its filters and ordering kept.
        self.search_action = self.get_query_string(new_params={SAVED_SEARCH_VAR: None, SEARCH_VAR: None})
        self.has_search = bool(self.query) or self.search_expired

    def get_filters_params(self, params=None):
        lookup_params = super().get_filters_params(params)
        lookup_params.pop(SAVED_SEARCH_VAR, None)  # not a field lookup
        return lookup_params

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        return queryset.none() if self.search_expired else queryset


def _list_url(request: HttpRequest, token: str | None) -> str:
    params: QueryDict = request.GET.copy()
    for name in (SEARCH_VAR, SAVED_SEARCH_VAR, PAGE_VAR):
        params.pop(name, None)
    if token is not None:
        params[SAVED_SEARCH_VAR] = token
    return request.path + (f"?{params.urlencode()}" if params else "")


def _searched(request: HttpRequest, term: str) -> HttpResponseRedirect:
    """To this list searched for ``term`` (saved under a token), filters and ordering kept; blank clears it."""
    return HttpResponseRedirect(_list_url(request, saved_search_token(request, term) if term.strip() else None))


class SavedSearchAdminMixin:
    """Searches post their term and lists carry an opaque token (module docstring)."""

    def get_changelist(self, request, **kwargs):
        changelist = super().get_changelist(request, **kwargs)  # type: ignore[misc]
        if issubclass(changelist, SavedSearchChangeList):
            return changelist
        if changelist is ChangeList:
            return SavedSearchChangeList
        return type(changelist.__name__, (SavedSearchChangeList, changelist), {"__module__": changelist.__module__})

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method == "POST" and SEARCH_POSTED in request.POST:
            if not self.has_view_or_change_permission(request):  # type: ignore[attr-defined]
                raise PermissionDenied
            return _searched(request, request.POST.get(SEARCH_VAR, ""))
        if SEARCH_VAR in request.GET:
            # A ?q= address (typed, bookmarked): the same search, the term moved out of the address.
            return _searched(request, request.GET[SEARCH_VAR])
        token = request.GET.get(SAVED_SEARCH_VAR)
        if token is not None and saved_search_term(request, token) is None:
            messages.warning(request, EXPIRED_MESSAGE)
            return HttpResponseRedirect(_list_url(request, None))
        return super().changelist_view(request, extra_context)  # type: ignore[misc]
