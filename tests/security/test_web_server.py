"""The production web server (gunicorn with config/gunicorn.py) logs no personal data, and refusals in one line.

Each test starts the real server on the test databases, the way an operator runs it from the project
folder (``gunicorn config.wsgi``, which reads ``gunicorn.conf.py``), with the access log on, sends real
HTTP requests and reads what the server wrote.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.conf import settings

from tests.support.processes import free_port, stop_process, url_for, wait_for

EMAIL = "zephyrine.quillfeather@example.org"
LINK_TOKEN = "eyJyIjo0Mn0.Zq9xWk.s3cr3t-T0ken_value"
CLIENT_ADDRESS = "203.0.113.77"  # what a proxy would say the client is
USER_AGENT = "Zephyrine-Browser/1.0"


class WebServer:
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.access_log = folder / "access.log"
        self.output = folder / "server.log"  # gunicorn's error log and Django's log lines (stderr)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        from gunicorn.config import Config

        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": url_for("default"),
            "PLATFORM_DATABASE_URL": url_for("platform"),
            "LOG_LEVEL": "INFO",
        }
        command = [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi",
            *("--bind", f"127.0.0.1:{self.port}", "--workers", "1"),
            *("--access-logfile", str(self.access_log)),
        ]
        if "control_socket_disable" in Config().settings:  # gunicorn 25+: no control socket in ~/.gunicorn
            command.append("--no-control-socket")
        with self.output.open("w") as output:
            self.process = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,  # gunicorn reads the project's gunicorn.conf.py from here
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self._answers, timeout=60)

    def _answers(self) -> bool:
        try:
            return requests.get(f"{self.base}/subprocessors/", timeout=10).status_code == 200
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def log_text(self) -> str:
        return self.output.read_text()

    def access_text(self) -> str:
        return self.access_log.read_text()


@pytest.fixture
def web_server(tmp_path):
    server = WebServer(tmp_path)
    server.start()
    yield server
    server.stop()


def _log_in(server: WebServer, user) -> requests.Session:
    """The admin login form, as a browser posts it (the test settings need no second factor)."""
    session = requests.Session()
    session.get(f"{server.base}/admin/login/", timeout=30)
    response = session.post(
        f"{server.base}/admin/login/",
        data={
            "username": user.get_username(),
            "password": "pw-for-tests-only",
            "next": "/admin/",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{server.base}/admin/login/"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302, response.text[:300]
    return session


pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "platform"])


def test_the_access_log_keeps_paths_without_search_terms_tokens_or_the_persons_details(web_server, officer):
    server = web_server
    person = {
        "User-Agent": USER_AGENT,
        "Referer": f"https://mail.example/read/{EMAIL}",
        "X-Forwarded-For": CLIENT_ADDRESS,
    }
    officer_session = _log_in(server, officer)

    # An old bookmark searching by address, a download link's token, the search box of the admin.
    bookmark = officer_session.get(
        f"{server.base}/admin/requests_app/rightsrequest/", params={"q": EMAIL}, headers=person, timeout=30
    )
    assert bookmark.status_code == 200 and EMAIL not in bookmark.url  # followed to ?s=<token>
    assert requests.get(f"{server.base}/data-export/{LINK_TOKEN}/", headers=person, timeout=30).status_code == 404
    posted = officer_session.post(
        f"{server.base}/admin/requests_app/rightsrequest/",
        data={"q": EMAIL, "_search": "1", "csrfmiddlewaretoken": officer_session.cookies["csrftoken"]},
        headers={**person, "Referer": f"{server.base}/admin/requests_app/rightsrequest/"},
        timeout=30,
    )
    assert posted.status_code == 200 and "?s=" in posted.url and EMAIL not in posted.url
    wait_for(lambda: server.access_text().count("\n") >= 6, timeout=30)
    server.stop()  # everything flushed

    text = server.access_text()
    # The lines were written: the request line scrubbed, status, size, duration...
    assert '"GET /admin/requests_app/rightsrequest/?q=[redacted] HTTP/1.1" 302' in text, text
    assert '"GET /admin/requests_app/rightsrequest/?s=[redacted] HTTP/1.1" 200' in text, text
    assert '"GET /data-export/[token]/ HTTP/1.1" 404' in text, text
    assert '"POST /admin/requests_app/rightsrequest/ HTTP/1.1" 302' in text, text
    # ...and none carries the address (as typed or encoded), the token, the client's address or browser.
    for secret in [EMAIL, EMAIL.replace("@", "%40"), EMAIL.split("@")[0], LINK_TOKEN, "s3cr3t"]:
        assert secret not in text, secret
    for detail in [CLIENT_ADDRESS, "127.0.0.1", USER_AGENT, "mail.example", "python-requests"]:
        assert detail not in text, detail
    assert EMAIL not in server.log_text() and LINK_TOKEN not in server.log_text()


def test_expected_refusals_are_logged_in_one_line_without_a_traceback(web_server, agent):
    server = web_server
    agent_session = _log_in(server, agent)
    # A page the agent's role does not allow: PermissionDenied (Django logged its traceback).
    assert agent_session.get(f"{server.base}/admin/retention/legalhold/", timeout=30).status_code == 403
    # A form posted without its CSRF token (another site's page, an expired form).
    refused = requests.post(f"{server.base}/subprocessors/subscribe/", data={"email": EMAIL}, timeout=30)
    assert refused.status_code == 403
    # A forged Host header: a SuspiciousOperation (Django logged its traceback at ERROR).
    assert (
        requests.get(f"{server.base}/subprocessors/", headers={"Host": "evil.example"}, timeout=30).status_code == 400
    )
    wait_for(lambda: "Invalid HTTP_HOST header" in server.log_text(), timeout=30)
    server.stop()

    text = server.log_text()
    lines = text.splitlines()
    assert any(
        line.endswith("WARNING django.request Forbidden (Permission denied): /admin/retention/legalhold/")
        for line in lines
    ), text
    assert any(line.endswith("Forbidden (CSRF cookie not set.): /subprocessors/subscribe/") for line in lines), text
    assert any(
        "ERROR django.security.DisallowedHost Invalid HTTP_HOST header: 'evil.example'." in line for line in lines
    ), text
    assert "Traceback" not in text and 'File "' not in text, text
    assert EMAIL not in text
