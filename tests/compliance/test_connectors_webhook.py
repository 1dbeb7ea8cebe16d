"""The webhook connector against a real HTTP server running in a thread (no mocks)."""

import csv
import hashlib
import hmac
import io
import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import time_machine
from django.core.exceptions import ValidationError

from compliance.connectors import ConnectorError, ConnectorPending, ErasurePlan, Subject, TablePlan, get_connector
from compliance.connectors.webhook import SignatureError, WebhookConnector, backoff_delays, sign, verify
from compliance.models import MappedColumn, MappedTable, SystemOfRecord
from tests.compliance.datamap_fixtures import MemorySink

SECRET = "test-webhook-secret-0123456789"

pytestmark = pytest.mark.django_db


class Receiver:
    """A system of record that does the work itself: checks our signature, answers from a script."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list[tuple] = []  # (status, body bytes or dict, sign the answer?)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                timestamp = self.headers.get("X-Studio-Timestamp", "")
                expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
                fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) <= 300
                authentic = hmac.compare_digest(f"v1={expected}", self.headers.get("X-Studio-Signature", ""))
                receiver.requests.append(
                    {
                        "body": json.loads(body),
                        "raw": body,
                        "headers": dict(self.headers),
                        "authentic": authentic and fresh,
                    }
                )
                if not (authentic and fresh):
                    return self._answer(401, b'{"error": "bad signature"}', signed=False)
                status, answer, signed = receiver.script.pop(0) if receiver.script else (500, b"{}", True)
                self._answer(status, answer if isinstance(answer, bytes) else json.dumps(answer).encode(), signed)

            def _answer(self, status, body, signed):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if signed:
                    now = int(time.time())
                    mac = hmac.new(SECRET.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
                    self.send_header("X-Studio-Timestamp", str(now))
                    self.send_header("X-Studio-Signature", f"v1={mac}")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/privacy-hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, status, body, signed=True):
        self.script.append((status, body, signed))


@pytest.fixture
def receiver():
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def system(receiver, settings, datamap_baseline):
    settings.WEBHOOK_SECRETS = {"CRM_WEBHOOK_SECRET": SECRET}
    settings.WEBHOOK_RETRY_BACKOFF_SECONDS = 0.5
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    crm = SystemOfRecord.objects.create(
        name="CRM",
        slug="crm",
        owner="Sales",
        kind="webhook",
        webhook_url=receiver.url,
        webhook_secret_setting="CRM_WEBHOOK_SECRET",
    )
    contacts = MappedTable.objects.create(
        system=crm, table_name="contacts", subject_column="email", subject_key="email"
    )
    for name in ["id", "email", "note"]:
        MappedColumn.objects.create(table=contacts, name=name, not_personal=name == "id")
    MappedTable.objects.create(system=crm, table_name="calls", subject_column="email", subject_key="email")
    return crm


def _connector(system) -> WebhookConnector:
    connector = get_connector(system)
    connector.waits = []
    connector.sleep = connector.waits.append  # count the backoff instead of waiting it out
    return connector


def test_locate_posts_a_signed_request_and_reads_the_signed_answer(system, receiver):
    receiver.answer(
        200, {"status": "done", "tables": [{"table": "contacts", "rows": 2}, {"table": "calls", "rows": 0}]}
    )

    counts = _connector(system).locate(Subject(account_ref="42", email="Ada@Example.com"))

    assert [(c.table_name, c.rows) for c in counts] == [("contacts", 2), ("calls", 0)]
    sent = receiver.requests[0]
    assert sent["authentic"]
    assert sent["body"]["operation"] == "locate" and sent["body"]["system"] == "crm"
    assert sent["body"]["subject"] == {"account_ref": "42", "email": "ada@example.com"}
    assert sent["headers"]["X-Studio-Idempotency-Key"] == sent["body"]["idempotency_key"]


def test_the_same_work_carries_the_same_idempotency_key(system, receiver):
    for _ in range(2):
        receiver.answer(200, {"status": "done", "tables": []})
        _connector(system).locate(Subject(email="ada@example.com"))
    receiver.answer(200, {"status": "done", "tables": []})
    _connector(system).locate(Subject(email="bob@example.com"))
    keys = [r["headers"]["X-Studio-Idempotency-Key"] for r in receiver.requests]
    assert keys[0] == keys[1] != keys[2]


def test_verify_accepts_a_fresh_signature_and_refuses_replays_and_tampering(settings):
    settings.WEBHOOK_REPLAY_WINDOW_SECONDS = 300
    body = b'{"operation":"erase"}'
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False):
        stamp = int(time.time())
        signature = sign(SECRET, stamp, body)
        verify(SECRET, timestamp=str(stamp), signature=signature, body=body)
        with pytest.raises(SignatureError, match="does not match"):
            verify(SECRET, timestamp=str(stamp), signature=signature, body=b'{"operation":"export"}')
        with pytest.raises(SignatureError, match="does not match"):
            verify("another-secret", timestamp=str(stamp), signature=signature, body=body)
        with pytest.raises(SignatureError, match="not signed"):
            verify(SECRET, timestamp=None, signature=signature, body=body)
    # 301 seconds later the same message is a replay.
    with (
        time_machine.travel(datetime(2026, 3, 2, 9, 5, 1, tzinfo=UTC), tick=False),
        pytest.raises(SignatureError, match="replay window"),
    ):
        verify(SECRET, timestamp=str(stamp), signature=signature, body=body)


def test_a_replayed_request_is_refused_by_the_receiver(system, receiver):
    receiver.answer(200, {"status": "done", "tables": []})
    _connector(system).locate(Subject(email="ada@example.com"))
    captured = receiver.requests[0]

    # The same bytes and headers sent again ten minutes later: outside the window.
    with time_machine.travel(time.time() + 600, tick=True):
        replay = requests.post(
            receiver.url,
            data=captured["raw"],
            headers={k: v for k, v in captured["headers"].items() if k.startswith("X-Studio")},
            timeout=5,
        )
    assert replay.status_code == 401


def test_an_unsigned_or_forged_answer_is_refused(system, receiver):
    receiver.answer(200, {"status": "done", "tables": [{"table": "contacts", "rows": 1}]}, signed=False)
    with pytest.raises(SignatureError, match="not signed"):
        _connector(system).locate(Subject(email="ada@example.com"))


def test_server_errors_are_retried_with_backoff_then_succeed(system, receiver):
    receiver.answer(503, {"error": "busy"})
    receiver.answer(502, {"error": "gateway"})
    receiver.answer(200, {"status": "done", "tables": [{"table": "calls", "rows": 3}]})
    connector = _connector(system)

    counts = connector.locate(Subject(email="ada@example.com"))

    assert counts[0].rows == 3
    assert len(receiver.requests) == 3 and all(r["authentic"] for r in receiver.requests)
    assert connector.waits == [0.5, 1.0]


def test_a_client_error_is_not_retried_and_the_message_carries_no_answer_text(system, receiver):
    receiver.answer(400, {"error": "no contact ada@example.com"})
    with pytest.raises(ConnectorError) as error:
        _connector(system).locate(Subject(email="ada@example.com"))
    assert "HTTP 400" in str(error.value)
    assert "ada@example.com" not in str(error.value)
    assert len(receiver.requests) == 1


def test_an_unreachable_system_fails_after_every_attempt_with_a_clear_error(system, receiver):
    receiver.server.shutdown()
    receiver.server.server_close()
    connector = _connector(system)
    with pytest.raises(ConnectorError) as error:
        connector.locate(Subject(email="ada@example.com"))
    assert "cannot reach the system" in str(error.value) and "after 3 attempts" in str(error.value)
    assert connector.waits == [0.5, 1.0]


def test_an_accepted_job_is_pending_and_the_same_call_later_returns_its_result(system, receiver):
    receiver.answer(202, {"status": "accepted", "job": "job-77"})
    plan = ErasurePlan([TablePlan(system.tables.get(table_name="contacts").pk, "delete")])
    with pytest.raises(ConnectorPending) as pending:
        _connector(system).erase(Subject(email="ada@example.com"), plan)
    assert pending.value.reference == "webhook job job-77"

    receiver.answer(200, {"status": "done", "tables": [{"table": "contacts", "deleted": 2, "masked": 0, "kept": 0}]})
    outcomes = _connector(system).erase(Subject(email="ada@example.com"), plan)
    assert [(o.table_name, o.deleted) for o in outcomes] == [("contacts", 2)]
    first, second = receiver.requests
    assert first["body"]["idempotency_key"] == second["body"]["idempotency_key"]
    assert first["body"]["plan"] == [{"table": "contacts", "action": "delete", "reason": ""}]


def test_an_answer_about_a_table_outside_the_map_is_refused(system, receiver):
    receiver.answer(200, {"status": "done", "tables": [{"table": "secret_stuff", "rows": 1}]})
    with pytest.raises(ConnectorError, match="not in the map"):
        _connector(system).locate(Subject(email="ada@example.com"))


def test_export_streams_the_signed_answer_into_the_sink(system, receiver):
    lines = [
        {"table": "contacts", "row": {"id": 1, "email": "ada@example.com", "note": "=cmd|' /C calc'!A0"}},
        {"table": "contacts", "row": {"id": 2, "email": "ada@example.com", "note": "likes <b>tea</b>"}},
        {"table": "calls", "row": {"id": 9, "minutes": 12}},
        {"status": "done"},
    ]
    receiver.answer(200, b"".join(json.dumps(line).encode() + b"\n" for line in lines))
    sink = MemorySink()

    counts = _connector(system).export(Subject(email="ada@example.com"), sink)

    assert [(c.table_name, c.rows) for c in counts] == [("contacts", 2), ("calls", 1)]
    jsonl = [json.loads(line) for line in sink.text("contacts", "jsonl").splitlines()]
    assert jsonl[0]["note"] == "=cmd|' /C calc'!A0"
    rows = list(csv.DictReader(io.StringIO(sink.text("contacts", "csv"))))
    assert rows[0]["note"] == "'=cmd|' /C calc'!A0" and rows[1]["note"] == "likes <b>tea</b>"
    assert list(rows[0]) == ["email", "id", "note"]


def test_export_drops_the_columns_the_map_withholds_from_what_the_system_sent(system, receiver):
    MappedColumn.objects.filter(table__system=system, name="note").update(access_withheld="staff")
    lines = [
        {"table": "contacts", "row": {"id": 1, "email": "ada@example.com", "note": "Staff: difficult customer"}},
        {"status": "done"},
    ]
    receiver.answer(200, b"".join(json.dumps(line).encode() + b"\n" for line in lines))
    sink = MemorySink()

    _connector(system).export(Subject(email="ada@example.com"), sink)

    assert [json.loads(line) for line in sink.text("contacts", "jsonl").splitlines()] == [
        {"id": 1, "email": "ada@example.com"}
    ]
    assert list(csv.DictReader(io.StringIO(sink.text("contacts", "csv")))) == [{"email": "ada@example.com", "id": "1"}]


def test_an_export_answer_cut_short_is_refused(system, receiver):
    receiver.answer(200, b'{"table": "contacts", "row": {"id": 1}}\n')
    with pytest.raises(ConnectorError, match="ended before"):
        _connector(system).export(Subject(email="ada@example.com"), MemorySink())


def test_sweep_batch_returns_the_systems_evidence(system, receiver):
    digest = hashlib.sha256(b"3,4").hexdigest()
    receiver.answer(
        200,
        {
            "status": "done",
            "matched": 3,
            "affected": 2,
            "skipped_held": 1,
            "checkpoint": 4,
            "keys_sha256": digest,
            "done": True,
        },
    )
    batch = _connector(system).sweep_batch(
        system.tables.get(table_name="calls"),
        timestamp_column="created_at",
        cutoff=datetime(2026, 1, 1, tzinfo=UTC),
        action="delete",
        checkpoint=None,
        batch_size=500,
        held_subjects=[Subject(email="held@example.com")],
    )
    assert (batch.matched, batch.affected, batch.skipped_held, batch.checkpoint, batch.done) == (3, 2, 1, "4", True)
    assert batch.keys_sha256 == digest
    body = receiver.requests[0]["body"]
    assert body["held_subjects"] == [{"account_ref": None, "email": "held@example.com"}]
    assert body["cutoff"] == "2026-01-01T00:00:00+00:00"


def test_backoff_doubles_and_is_capped():
    assert backoff_delays(4, 2.0) == [2.0, 4.0, 8.0]
    assert backoff_delays(9, 10.0)[-1] == 60.0
    assert backoff_delays(1, 2.0) == []


def test_a_webhook_system_needs_a_configured_secret(settings, datamap_baseline):
    settings.WEBHOOK_SECRETS = {}
    crm = SystemOfRecord(name="CRM", slug="crm", owner="Sales", kind="webhook", webhook_url="https://crm.example/hook")
    crm.webhook_secret_setting = "CRM_WEBHOOK_SECRET"
    with pytest.raises(ValidationError, match="CRM_WEBHOOK_SECRET"):
        crm.full_clean()
    crm.save()
    with pytest.raises(ConnectorError, match="not configured"):
        get_connector(crm)
