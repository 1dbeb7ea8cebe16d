"""Generate realistic, reproducible sample platform data fast.

Everything comes from one ``random.Random(seed)`` and an anchor date, so the
same seed on the same (empty or reset) database gives the same rows on
PostgreSQL and SQLite. Rows are written in bulk: ``COPY ... FROM STDIN`` on
PostgreSQL (1,000,000 API requests in seconds), multi-row ``executemany`` on
SQLite. Primary keys are assigned here so children can point at their parents
without a round trip; the sequences are moved past them at the end.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.management.color import no_style
from django.db import connections, transaction

from sample_platform import models as m

FIRST_NAMES = [
    "Amelia",
    "Oliver",
    "Isla",
    "George",
    "Ava",
    "Noah",
    "Mia",
    "Arthur",
    "Ivy",
    "Leo",
    "Freya",
    "Oscar",
    "Lily",
    "Harry",
    "Sofia",
    "Jack",
    "Grace",
    "Charlie",
    "Aisha",
    "Mohammed",
    "Zara",
    "Yusuf",
    "Priya",
    "Arjun",
    "Mei",
    "Hiroshi",
    "Chloe",
    "Lucas",
    "Elena",
    "Mateo",
    "Ines",
    "Tomasz",
    "Olga",
    "Kofi",
    "Ama",
    "Femi",
]
LAST_NAMES = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Khan",
    "Ahmed",
    "Singh",
    "Chen",
    "Nakamura",
    "Garcia",
    "Rossi",
    "Novak",
    "Mensah",
    "Okafor",
]
DOMAINS = ("example.com", "example.org", "mail.example.net", "studio-customer.example", "lab.example.io")
ORG_WORDS = [
    "Acme",
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Aperture",
]
ORG_SUFFIXES = ("Ltd", "GmbH", "Inc", "Labs", "AI", "Analytics", "Studio")
STREETS = ("High Street", "Station Road", "Church Lane", "Market Square", "Mill Road", "Queen Street")
CITIES = ("London SW1A 1AA", "Manchester M1 1AE", "Berlin 10115", "Paris 75001", "Toronto M5H 2N2", "Austin TX 78701")
MODEL_IDS = (
    "openai/gpt-4o",
    "openai/gpt-4o-mini",
    "anthropic/claude-3-5-sonnet",
    "anthropic/claude-3-haiku",
    "google/gemini-1.5-pro",
    "meta-llama/llama-3.1-70b-instruct",
    "mistralai/mistral-large",
    "deepseek/deepseek-chat",
)
# Price per token in USD (prompt, completion), for a plausible cost column.
MODEL_PRICES = (
    (2.5e-6, 1e-5),
    (1.5e-7, 6e-7),
    (3e-6, 1.5e-5),
    (2.5e-7, 1.25e-6),
    (1.25e-6, 5e-6),
    (5.2e-7, 7.5e-7),
    (2e-6, 6e-6),
    (1.4e-7, 2.8e-7),
)
USER_AGENTS = (
    "python-requests/2.32.3",
    "openai-python/1.51.0",
    "node-fetch/3.3.2",
    "curl/8.5.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "langchain/0.2.11",
)
ERRORS = (
    (429, "rate limited by upstream provider"),
    (400, "context length exceeded"),
    (502, "upstream provider unavailable"),
    (401, "invalid api key"),
    (500, "internal routing error"),
)
PROMPTS = (
    "Summarise the following meeting notes for {name}: budget approved, launch moved to {month}.",
    "Translate into French: 'Our office at {street} opens at nine.'",
    "Write a polite reply to {name} declining the invitation for {month}.",
    "Explain the difference between a mutex and a semaphore with an example in Rust.",
    "Draft a SQL query listing customers in {city} who ordered last month.",
    "Give me three names for a coffee shop on {street}.",
    "My email is {email}; write a signature block for it.",
    "Review this code: <script>alert('hi')</script> is it safe to render?",
    '=HYPERLINK("http://example.invalid", "click") what does this spreadsheet formula do?',
    "Fix the grammar: 'me and {name} goes to the {city} office tomorrow'",
)
OUTPUTS = (
    "Here is a concise summary: the budget was approved and the launch is now planned for later.",
    "Notre bureau ouvre à neuf heures.",
    "Dear colleague, thank you for the kind invitation; unfortunately I cannot attend.",
    "A mutex allows one holder at a time, while a semaphore counts permits. In Rust, std::sync::Mutex...",
    "SELECT * FROM customers WHERE city = $1 AND ordered_at >= date_trunc('month', now()) - interval '1 month';",
    "1. Bean There\n2. The Daily Grind\n3. Brew & Co",
    "Best regards,\nYour name\n(contact details)",
    "Rendering untrusted HTML is unsafe: escape it first.",
    "It creates a clickable link; never open spreadsheets from untrusted sources.",
    "Corrected: 'I and my colleague are going to the office tomorrow.'",
)
TICKET_SUBJECTS = (
    "Invoice address needs updating",
    "API key leaked, please revoke",
    "Rate limits on the enterprise plan",
    "Refund for duplicate top-up",
    "Cannot sign in with Google",
    "Question about data retention",
)
MESSAGES = (
    "Hello, could you help with this? My account email is {email}.",
    "Thanks for getting in touch. We have looked into it and made the change.",
    "Please find the diagnostics attached: request id req_{num}, region eu-west.",
    "That fixed it, thank you!",
    "Could you also confirm my billing address at {street}, {city}?",
)
PAGES = ("/", "/pricing", "/models", "/docs", "/docs/quickstart", "/blog/routing", "/privacy", "/signup", "/login")
REFERRERS = (None, None, "https://www.google.com/", "https://news.ycombinator.com/", "https://github.com/")
MONTHS = ("January", "March", "May", "July", "September", "November")


@dataclass
class SeedCounts:
    """Rows written per table, in insertion order."""

    rows: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, count: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + count

    @property
    def total(self) -> int:
        return sum(self.rows.values())


# Children before parents: the order rows are removed in by ``reset``.
DELETE_ORDER = [
    m.Output,
    m.Prompt,
    m.ApiRequest,
    m.SupportMessage,
    m.SupportTicket,
    m.VisitorEvent,
    m.Invoice,
    m.WalletTransaction,
    m.ApiKey,
    m.Account,
    m.Organisation,
]


# The big tables, loaded without secondary indexes when the load is large (see ``_bulk_load``).
BULK_MODELS = [m.ApiRequest, m.Prompt, m.Output]


def _columns(model) -> list[str]:
    return [f.column for f in model._meta.concrete_fields]


class _Writer:
    """Bulk rows into one table: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, using: str):
        self.connection = connections[using]
        self.is_postgres = self.connection.vendor == "postgresql"

    def write(self, model, rows: Iterable[Sequence]) -> int:
        qn = self.connection.ops.quote_name
        columns = _columns(model)
        table = qn(model._meta.db_table)
        column_list = ", ".join(qn(c) for c in columns)
        count = 0
        with self.connection.cursor() as cursor:
            if self.is_postgres:
                with cursor.cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        count += 1
            else:
                sql = f"INSERT INTO {table} ({column_list}) VALUES ({', '.join(['%s'] * len(columns))})"
                adapt = self.connection.ops.adapt_datetimefield_value
                chunk: list[Sequence] = []
                for row in rows:
                    # Stored as Django stores them (naive UTC text), so comparisons in SQL work.
                    chunk.append([adapt(v) if isinstance(v, datetime) else v for v in row])
                    if len(chunk) >= 5000:
                        cursor.executemany(sql, chunk)
                        count += len(chunk)
                        chunk = []
                if chunk:
                    cursor.executemany(sql, chunk)
                    count += len(chunk)
        return count


@contextmanager
def _bulk_load(using: str, models_: list, rows_expected: int) -> Iterator[None]:
    """On PostgreSQL, load big batches without secondary indexes and foreign keys, then rebuild them.

    Maintaining four indexes row by row and queueing a deferred foreign-key
    check per row makes a million-row COPY five times slower than building the
    indexes once and validating each constraint with one query at the end. Only
    worth it when the load is large compared with what the tables already hold.
    Runs inside the caller's transaction: a failure leaves the schema as it was.
    """
    connection = connections[using]
    if connection.vendor != "postgresql" or rows_expected < 100_000:
        yield
        return
    qn = connection.ops.quote_name
    restore: list[str] = []
    with connection.cursor() as cursor:
        tables = [model._meta.db_table for model in models_]
        cursor.execute("SELECT coalesce(sum(reltuples), 0) FROM pg_class WHERE relname = ANY(%s)", [tables])
        if cursor.fetchone()[0] > rows_expected:
            yield
            return
        for table in tables:
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype = 'f'",
                [qn(table)],
            )
            for name, definition in cursor.fetchall():
                cursor.execute(f"ALTER TABLE {qn(table)} DROP CONSTRAINT {qn(name)}")
                restore.append(f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(name)} {definition}")
            cursor.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
                "AND i.tablename = %s AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname AND c.conrelid = %s::regclass)",
                [table, qn(table)],
            )
            for name, definition in cursor.fetchall():
                cursor.execute(f"DROP INDEX {qn(name)}")
                restore.insert(0, definition)  # indexes before the constraints that use them
    yield
    with connection.cursor() as cursor:
        for statement in restore:
            cursor.execute(statement)


def platform_reset(*, using: str = "platform") -> None:
    """Remove every sample platform row (children first) and restart the keys."""
    connection = connections[using]
    qn = connection.ops.quote_name
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Foreign-key checks still queued in this transaction would block TRUNCATE: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            tables = ", ".join(qn(model._meta.db_table) for model in DELETE_ORDER)
            cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY")
        else:
            for model in DELETE_ORDER:
                cursor.execute(f"DELETE FROM {qn(model._meta.db_table)}")
            cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'")
            if cursor.fetchone():
                names = [model._meta.db_table for model in DELETE_ORDER]
                cursor.execute(
                    f"DELETE FROM sqlite_sequence WHERE name IN ({', '.join(['%s'] * len(names))})",
                    names,
                )


def platform_account_count(*, using: str = "platform") -> int:
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(m.Account._meta.db_table)}")
        return cursor.fetchone()[0]


def _next_ids(using: str) -> dict[type, int]:
    connection = connections[using]
    qn = connection.ops.quote_name
    ids = {}
    with connection.cursor() as cursor:
        for model in DELETE_ORDER:
            cursor.execute(f"SELECT coalesce(max(id), 0) FROM {qn(model._meta.db_table)}")
            ids[model] = cursor.fetchone()[0] + 1
    return ids


def _ts(value: datetime) -> datetime:
    return value.replace(microsecond=0)


class _Generator:
    def __init__(self, *, seed: int, anchor: datetime, years: int, next_ids: dict[type, int]):
        self.rng = random.Random(seed)
        self.anchor = anchor
        self.start = anchor - timedelta(days=365 * years)
        self.ids = dict(next_ids)

    def take_id(self, model) -> int:
        value = self.ids[model]
        self.ids[model] = value + 1
        return value

    def moment(self, start: datetime, end: datetime) -> datetime:
        span = (end - start).total_seconds()
        return _ts(start + timedelta(seconds=self.rng.random() * max(span, 1.0)))


def seed_platform(
    *,
    accounts: int,
    requests_per_account: int,
    seed: int = 1,
    anchor: datetime | None = None,
    years: int = 4,
    using: str = "platform",
    reset: bool = False,
    progress=None,
) -> SeedCounts:
    """Add ``accounts`` accounts with ``requests_per_account`` API requests each, and everything around them.

    Dates spread over ``years`` years before ``anchor`` (default: now), so
    retention has old rows to act on; about one account in ten is closed, one
    request in ten kept its prompt and output, support tickets are open and
    closed. Appends after the rows already there unless ``reset``.
    """
    if accounts < 0 or requests_per_account < 0:
        raise ValueError("counts must not be negative")
    anchor = _ts(anchor or datetime.now(tz=UTC))
    if reset:
        platform_reset(using=using)
    gen = _Generator(seed=seed, anchor=anchor, years=years, next_ids=_next_ids(using))
    writer = _Writer(using)
    counts = SeedCounts()
    rng = gen.rng

    def note(message: str) -> None:
        if progress:
            progress(message)

    # Accounts and organisations first: every other table points at them.
    org_rows, account_rows, account_spans = _accounts(gen, accounts)
    with transaction.atomic(using=using):
        counts.add("organisations", writer.write(m.Organisation, org_rows))
        counts.add("accounts", writer.write(m.Account, account_rows))
        key_rows = list(_api_keys(gen, account_spans))
        counts.add("api_keys", writer.write(m.ApiKey, key_rows))
        keys_by_account: dict[int, list[int]] = {}
        for row in key_rows:
            keys_by_account.setdefault(row[1], []).append(row[0])
        wallet_rows, invoice_rows = _billing(gen, account_spans)
        counts.add("wallet_transactions", writer.write(m.WalletTransaction, wallet_rows))
        counts.add("invoices", writer.write(m.Invoice, invoice_rows))
        ticket_rows, message_rows = _support(gen, account_spans, accounts)
        counts.add("support_tickets", writer.write(m.SupportTicket, ticket_rows))
        counts.add("support_messages", writer.write(m.SupportMessage, message_rows))
        counts.add("visitor_events", writer.write(m.VisitorEvent, _visitor_events(gen, account_spans)))
    note(f"accounts: {accounts}")

    # API requests, prompts and outputs: streamed, never all in memory.
    prompts: list[tuple] = []
    outputs: list[tuple] = []
    with transaction.atomic(using=using), _bulk_load(using, BULK_MODELS, accounts * requests_per_account):
        counts.add(
            "api_requests",
            writer.write(
                m.ApiRequest,
                _api_requests(gen, account_spans, keys_by_account, requests_per_account, prompts, outputs),
            ),
        )
        counts.add("prompts", writer.write(m.Prompt, prompts))
        counts.add("outputs", writer.write(m.Output, outputs))
    note(f"api requests: {counts.rows['api_requests']}")

    connection = connections[using]
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), DELETE_ORDER):
            cursor.execute(statement)
    del rng
    return counts


@dataclass(frozen=True)
class _AccountSpan:
    id: int
    email: str
    name: str
    created_at: datetime
    until: datetime  # closure or the anchor


def _accounts(gen: _Generator, count: int):
    rng = gen.rng
    org_rows = []
    orgs: list[tuple[int, datetime]] = []
    for _ in range(max(1, count // 5) if count else 0):
        org_id = gen.take_id(m.Organisation)
        created = gen.moment(gen.start, gen.anchor - timedelta(days=60))
        name = f"{rng.choice(ORG_WORDS)} {rng.choice(ORG_SUFFIXES)}"
        billing = f"billing@{name.split()[0].lower()}{org_id}.example" if rng.random() < 0.7 else ""
        org_rows.append((org_id, name, billing, created, None))
        orgs.append((org_id, created))
    account_rows = []
    spans = []
    owners: set[int] = set()
    for _ in range(count):
        account_id = gen.take_id(m.Account)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        domain = rng.choice(DOMAINS)
        email = f"{first}.{last}.{account_id}@{domain}".lower()
        if rng.random() < 0.05:
            email = f"{first}.{last}.{account_id}@{domain}"  # some addresses were stored as typed
        org_id = None
        role = m.Account.Role.MEMBER.value
        created = gen.moment(gen.start, gen.anchor - timedelta(days=1))
        if orgs and rng.random() < 0.8:
            org_id, org_created = orgs[int(rng.random() * len(orgs))]
            created = max(created, org_created)
            if org_id not in owners:
                owners.add(org_id)
                role = m.Account.Role.OWNER.value
            elif rng.random() < 0.2:
                role = m.Account.Role.ADMIN.value
        provider = rng.choice(("auth0", "google-oauth2", "github", None))
        auth_id = f"{provider}|{rng.getrandbits(64):016x}" if provider else None
        closed = None
        if rng.random() < 0.1 and (gen.anchor - created) > timedelta(days=45):
            closed = gen.moment(created + timedelta(days=30), gen.anchor)
        account_rows.append((account_id, email, f"{first} {last}", org_id, role, auth_id, created, closed, False))
        spans.append(_AccountSpan(account_id, email, f"{first} {last}", created, closed or gen.anchor))
    return org_rows, account_rows, spans


def _api_keys(gen: _Generator, spans: list[_AccountSpan]) -> Iterator[tuple]:
    rng = gen.rng
    for span in spans:
        for n in range(1 + int(rng.random() * 3)):
            key_id = gen.take_id(m.ApiKey)
            secret = f"sk-st-{rng.getrandbits(128):032x}"
            created = gen.moment(span.created_at, span.until)
            last_used = gen.moment(created, span.until) if rng.random() < 0.9 else None
            revoked = gen.moment(created, span.until) if (n > 0 and rng.random() < 0.3) else None
            key_hash = hashlib.sha256(secret.encode()).hexdigest()
            yield (key_id, span.id, f"key {n + 1}", secret[:10], key_hash, created, last_used, revoked)


def _billing(gen: _Generator, spans: list[_AccountSpan]) -> tuple[list[tuple], list[tuple]]:
    rng = gen.rng
    wallet, invoices = [], []
    for span in spans:
        balance = 0.0
        # The first top-up comes with the account; usage only after money is in the wallet.
        first = gen.moment(span.created_at, min(span.created_at + timedelta(days=2), span.until))
        events = [(first, "top_up")]
        for _ in range(int(rng.random() * 5)):
            events.append((gen.moment(first, span.until), "top_up"))
        months = max(1, int((span.until - span.created_at).days / 30))
        for _ in range(min(months, 24)):
            events.append((gen.moment(first, span.until), "usage"))
        events.sort()
        for moment, kind in events:
            tx_id = gen.take_id(m.WalletTransaction)
            if kind == "top_up":
                amount = float(rng.choice((10, 20, 50, 100, 250, 500)))
                reference = f"ch_{rng.getrandbits(80):020x}"
                balance += amount
                wallet.append((tx_id, span.id, kind, f"{amount:.4f}", f"{balance:.4f}", reference, moment))
                status = rng.choices(("paid", "pending", "failed", "refunded"), (90, 4, 4, 2))[0]
                address = f"{1 + int(rng.random() * 200)} {rng.choice(STREETS)}\n{rng.choice(CITIES)}"
                invoice_id = gen.take_id(m.Invoice)
                invoices.append(
                    (
                        invoice_id,
                        span.id,
                        f"INV-{invoice_id:08d}",
                        span.name,
                        address,
                        f"{amount:.2f}",
                        "USD",
                        status,
                        reference,
                        moment,
                    )
                )
            else:
                amount = -min(balance, round(rng.random() * 40, 4))
                balance += amount
                wallet.append((tx_id, span.id, kind, f"{amount:.4f}", f"{balance:.4f}", None, moment))
    return wallet, invoices


def _support(gen: _Generator, spans: list[_AccountSpan], accounts: int) -> tuple[list[tuple], list[tuple]]:
    rng = gen.rng
    tickets, messages = [], []
    requesters: list[tuple[int | None, str, datetime, datetime]] = []
    for span in spans:
        if rng.random() < 0.3:
            for _ in range(1 + int(rng.random() * 2)):
                email = span.email if rng.random() < 0.8 else span.email.title()  # typed differently
                requesters.append((span.id, email, span.created_at, span.until))
    for n in range(max(0, accounts // 20)):
        email = f"{rng.choice(FIRST_NAMES).lower()}.visitor{n}@{rng.choice(DOMAINS)}"
        requesters.append((None, email, gen.start, gen.anchor))
    for account_id, email, start, until in requesters:
        ticket_id = gen.take_id(m.SupportTicket)
        created = gen.moment(start, until)
        status = rng.choices(("open", "pending", "closed"), (15, 10, 75))[0]
        closed = gen.moment(created, gen.anchor) if status == "closed" else None
        subject = rng.choice(TICKET_SUBJECTS)
        moment = created
        for i in range(1 + int(rng.random() * 4)):
            message_id = gen.take_id(m.SupportMessage)
            moment = gen.moment(moment, closed or min(moment + timedelta(days=10), gen.anchor))
            author = "customer" if i % 2 == 0 else "staff"
            body = rng.choice(MESSAGES).format(
                email=email,
                num=rng.getrandbits(32),
                street=rng.choice(STREETS),
                city=rng.choice(CITIES),
            )
            messages.append((message_id, ticket_id, author, body, moment))
        tickets.append((ticket_id, email, account_id, subject, status, created, closed, max(moment, closed or moment)))
    return tickets, messages


def _visitor_events(gen: _Generator, spans: list[_AccountSpan]) -> Iterator[tuple]:
    rng = gen.rng

    def event(account_id, anonymous_id, start, end):
        return (
            gen.take_id(m.VisitorEvent),
            anonymous_id,
            account_id,
            _ip(rng),
            rng.choice(USER_AGENTS[4:]),
            rng.choice(PAGES),
            rng.choice(REFERRERS),
            gen.moment(start, end),
        )

    for span in spans:
        anonymous_id = f"{rng.getrandbits(128):032x}"
        for _ in range(int(rng.random() * 7)):
            yield event(span.id, anonymous_id, span.created_at, span.until)
    for _ in range(len(spans) * 3):
        yield event(None, f"{rng.getrandbits(128):032x}", gen.start, gen.anchor)


def _ip(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return f"2001:db8:{rng.getrandbits(16):x}::{rng.getrandbits(16):x}"
    return f"{rng.choice((81, 92, 141, 176, 203))}.{rng.getrandbits(8)}.{rng.getrandbits(8)}.{1 + rng.getrandbits(7)}"


class _Clock:
    """UTC timestamps as naive text ('YYYY-MM-DD HH:MM:SS') from epoch seconds, fast.

    A million ``datetime`` objects cost more than the rest of a row; day and
    time-of-day strings are cached instead. Both backends read this text as UTC
    (Django runs PostgreSQL sessions in UTC and stores SQLite datetimes this way).
    """

    def __init__(self):
        self.times = [f"{h:02d}:{mi:02d}:{se:02d}" for h in range(24) for mi in range(60) for se in range(60)]
        self.days: dict[int, str] = {}
        self.epoch = datetime(1970, 1, 1, tzinfo=UTC)

    def text(self, seconds: int) -> str:
        day, time_of_day = divmod(seconds, 86400)
        date_text = self.days.get(day)
        if date_text is None:
            date_text = self.days[day] = (self.epoch + timedelta(days=day)).strftime("%Y-%m-%d")
        return f"{date_text} {self.times[time_of_day]}"


def _api_requests(
    gen: _Generator,
    spans: list[_AccountSpan],
    keys_by_account: dict[int, list[int]],
    per_account: int,
    prompts: list[tuple],
    outputs: list[tuple],
) -> Iterator[tuple]:
    """API request rows; one in ten also gets a stored prompt and output (appended to the lists)."""
    rng = gen.rng
    random_ = rng.random
    n_models = len(MODEL_IDS)
    n_agents = len(USER_AGENTS)
    n_prompts = len(PROMPTS)
    take_request = gen.ids[m.ApiRequest]
    clock = _Clock()
    for span in spans:
        keys = keys_by_account.get(span.id) or [None]
        n_keys = len(keys)
        start = int(span.created_at.timestamp())
        seconds = max(int((span.until - span.created_at).total_seconds()), 1)
        # Each account calls from a handful of addresses and clients.
        ips = [_ip(rng) for _ in range(3)]
        agents = [USER_AGENTS[int(random_() * n_agents)] for _ in range(2)]
        for _ in range(per_account):
            request_id = take_request
            take_request += 1
            created = clock.text(start + int(random_() * seconds))
            model = int(random_() * n_models)
            prompt_tokens = 20 + int(random_() * 4000)
            completion_tokens = int(random_() * 1500)
            price_in, price_out = MODEL_PRICES[model]
            cost = f"{prompt_tokens * price_in + completion_tokens * price_out:.6f}"
            roll = random_()
            if roll < 0.03:
                status, error = ERRORS[int(roll * 1000) % len(ERRORS)]
                completion_tokens = 0
            else:
                status, error = 200, None
            yield (
                request_id,
                span.id,
                keys[int(random_() * n_keys)],
                MODEL_IDS[model],
                prompt_tokens,
                completion_tokens,
                cost,
                ips[int(random_() * 3)],
                agents[int(random_() * 2)],
                status,
                error,
                created,
            )
            if random_() < 0.1:
                prompt_id = gen.take_id(m.Prompt)
                choice = int(random_() * n_prompts)
                content = PROMPTS[choice].format(
                    name=span.name,
                    email=span.email,
                    month=MONTHS[choice % len(MONTHS)],
                    street=STREETS[choice % len(STREETS)],
                    city=CITIES[choice % len(CITIES)],
                )
                prompts.append((prompt_id, request_id, content, created))
                if status == 200:
                    finish = "stop" if random_() < 0.9 else "length"
                    outputs.append((gen.take_id(m.Output), prompt_id, OUTPUTS[choice], finish, created))
    gen.ids[m.ApiRequest] = take_request
