"""/api/docs/ in Chromium: Swagger UI from the project's own files, under the content security policy."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_api_reference_renders_its_operations_with_no_csp_violation_and_nothing_from_elsewhere(
    new_page, live_server, shots
):
    page = new_page()
    violations, console_errors, foreign = [], [], []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("request", lambda req: foreign.append(req.url) if not req.url.startswith(live_server.url) else None)
    # Chromium reports each blocked resource or inline script as a securitypolicyviolation event.
    page.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    response = page.goto("/api/docs/")
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/rights-requests/" in p for p in paths), paths
    assert page.locator(".opblock-summary-method").first.inner_text() in {"GET", "POST"}
    shots(page, "api reference")
    violations = page.evaluate("window.__csp")
    assert violations == []
    assert [e for e in console_errors if "Content Security Policy" in e] == []
    assert foreign == []  # no CDN: every file came from the project


def test_the_api_reference_page_has_no_inline_script(client):
    html = client.get("/api/docs/").content.decode()
    assert "<script>" not in html and 'src="/static/drf_spectacular_sidecar/swagger-ui-dist/' in html
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()


def test_the_api_clients_page_links_to_the_api_reference(client, officer):
    client.force_login(officer)
    page = client.get("/admin/requests_app/apiclient/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<a href="/api/docs/">API reference</a>' in html and "/api/schema/" in html
    assert client.get("/api/docs/").status_code == 200
