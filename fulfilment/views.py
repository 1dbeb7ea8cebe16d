"""Public pages of the fulfilment workers: the requester's download page and the vendors' confirmation.

Neither needs a login: each is reached through a signed token in the URL (no
personal data in it); a tampered or unknown token gets a plain refusal, logged
without the token. The download page asks for the requester's email address
or a one-time code before it streams anything.
"""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from fulfilment.forms import DownloadCodeForm, DownloadEmailForm
from fulfilment.models import DownloadLink, RecipientNotice
from fulfilment.services import (
    DownloadRefused,
    download_authorise,
    download_code_send,
    download_link_check,
    download_link_resolve,
    notice_confirm,
    notice_for_token,
)
from fulfilment.services.common import bundle_storage, client_fingerprint


def _same_origin_referrer(response: HttpResponseBase) -> HttpResponseBase:
    """The token in these pages' URLs is sent as a referrer to this site only: never to another site, and
    the page's own form posts keep their Origin (``no-referrer`` makes Chromium post ``Origin: null``, which
    Django's CSRF check refuses)."""
    response["Referrer-Policy"] = "same-origin"
    return response


def _refused(request: HttpRequest, error: DownloadRefused) -> HttpResponse:
    return TemplateResponse(request, "fulfilment/public/refused.html", {"message": error.message}, status=error.status)


@never_cache
@require_http_methods(["GET", "POST"])
def download_view(request: HttpRequest, token: str) -> HttpResponseBase:
    return _same_origin_referrer(_download(request, token))


def _download(request: HttpRequest, token: str) -> HttpResponseBase:
    client = client_fingerprint(request.META.get("REMOTE_ADDR"))
    try:
        link = download_link_resolve(token)
        download_link_check(link=link, client=client)
    except DownloadRefused as error:
        return _refused(request, error)
    uses_code = link.method == DownloadLink.Method.CODE
    form_class = DownloadCodeForm if uses_code else DownloadEmailForm
    form = form_class()
    message = problem = ""
    if request.method == "POST":
        try:
            if uses_code and "send_code" in request.POST:
                download_code_send(link=link, client=client)
                message = (
                    "We are emailing you a code; it should arrive within a few minutes. "
                    "It is valid for a short time and works once."
                )
            else:
                form = form_class(request.POST)
                if form.is_valid():
                    answer = form.cleaned_data["code" if uses_code else "email"]
                    bundle = download_authorise(link=link, answer=answer, client=client)
                    try:
                        handle = bundle_storage().open(bundle.file_name, "rb")
                    except FileNotFoundError:
                        raise DownloadRefused("This export is no longer available.", status=410) from None
                    response = FileResponse(
                        handle,
                        as_attachment=True,
                        filename=f"{bundle.request.reference}-your-data.zip",
                        content_type="application/zip",
                    )
                    response["Cache-Control"] = "no-store"
                    return response
        except DownloadRefused as error:
            link.refresh_from_db()
            if error.status in (404, 410) or link.locked_at is not None:
                return _refused(request, error)
            problem = error.message
    context = {
        "form": form,
        "uses_code": uses_code,
        "message": message,
        "problem": problem,
        "reference": link.bundle.request.reference,
        "expires_at": link.expires_at,
        "downloads_left": link.max_downloads - link.downloads_used,
    }
    return TemplateResponse(request, "fulfilment/public/download.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def notice_confirm_view(request: HttpRequest, token: str) -> HttpResponse:
    return _same_origin_referrer(_notice_confirm(request, token))


def _notice_confirm(request: HttpRequest, token: str) -> HttpResponse:
    notice = notice_for_token(token)
    if notice is None:
        return TemplateResponse(
            request, "fulfilment/public/refused.html", {"message": "This confirmation link is not valid."}, status=404
        )
    if request.method == "POST" and notice.status == RecipientNotice.Status.SENT:
        notice = notice_confirm(notice=notice, via="link")
    return TemplateResponse(
        request,
        "fulfilment/public/notice_confirm.html",
        {"notice": notice, "confirmed": notice.status == RecipientNotice.Status.CONFIRMED},
    )
