"""Reads of the subprocessor register that need more than a queryset method."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Prefetch, QuerySet
from django.utils import timezone

from compliance.models import DataCategory
from subprocessors.models import (
    AdequacyDecision,
    ChangeObjection,
    DataProcessingAgreement,
    ProcessingLocation,
    SecurityAttestation,
    Subprocessor,
    SubprocessorChange,
)

# ------------------------------------------------------------------------------
# For other apps
# ------------------------------------------------------------------------------


def recipients_for_categories(*, category_ids: Iterable[int]) -> QuerySet[Subprocessor]:
    """Subprocessors currently receiving any of these data categories (Art. 19 recipients).

    Active and offboarding ones: an offboarding vendor still holds the data until
    its removal takes effect.
    """
    return (
        Subprocessor.objects.filter(status__in=Subprocessor.PROCESSING_STATUSES, data_categories__in=list(category_ids))
        .distinct()
        .order_by("trading_name", "legal_name")
    )


# ------------------------------------------------------------------------------
# Public list (HTML, JSON, CSV, feed): no internal field ever leaves here
# ------------------------------------------------------------------------------

PUBLIC_SCHEMA_VERSION = 1


def _public_queryset() -> QuerySet[Subprocessor]:
    return (
        Subprocessor.objects.filter(status__in=Subprocessor.PUBLIC_STATUSES)
        .prefetch_related(
            "purposes",
            "data_categories",
            Prefetch("locations", queryset=ProcessingLocation.objects.filter(is_pending=False)),
        )
        .order_by("trading_name", "legal_name")
    )


def upcoming_changes() -> QuerySet[SubprocessorChange]:
    """Announced changes customers can still object to, soonest first."""
    return (
        SubprocessorChange.objects.filter(status=SubprocessorChange.Status.ANNOUNCED)
        .select_related("subprocessor", "location", "purpose", "data_category")
        .order_by("effective_on", "pk")
    )


def _iso(value: date | datetime | None) -> str | None:
    if isinstance(value, datetime):
        value = timezone.localtime(value)
    return value.isoformat() if value else None


def public_change(change: SubprocessorChange) -> dict[str, Any]:
    return {
        "id": change.pk,
        "subprocessor": change.subprocessor.slug,
        "subprocessor_name": str(change.subprocessor),
        "kind": change.kind,
        "kind_label": change.get_kind_display(),
        "target": change.target_label or None,
        "summary": change.summary,
        "announced_on": _iso(change.announced_on),
        "effective_on": _iso(change.effective_on),
        "status": change.status,
    }


def public_subprocessor(sub: Subprocessor) -> dict[str, Any]:
    locations = sorted(sub.locations.all(), key=lambda loc: (loc.country.name, loc.mechanism))
    return {
        "id": sub.slug,
        "name": str(sub),
        "legal_name": sub.legal_name,
        "website": sub.website or None,
        "category": sub.category,
        "category_label": sub.get_category_display(),
        "service": sub.service_description,
        "status": sub.status,
        "purposes": [p.name for p in sorted(sub.purposes.all(), key=lambda p: (p.display_order, p.name))],
        "data_categories": [
            {"id": c.slug, "name": c.name}
            for c in sorted(sub.data_categories.all(), key=lambda c: (c.display_order, c.name))
        ],
        "locations": [
            {
                "country": loc.country.code,
                "country_name": loc.country.name,
                "transfer_mechanism": loc.mechanism,
                "transfer_mechanism_label": loc.get_mechanism_display(),
                "scc_module": loc.scc_module or None,
            }
            for loc in locations
        ],
        "active_since": _iso(sub.active_since),
    }


def register_last_updated() -> datetime | None:
    """When the public list last changed: a public entry edited, a change announced, effective or withdrawn."""
    stamps = [
        Subprocessor.objects.filter(status__in=Subprocessor.PUBLIC_STATUSES).aggregate(m=Max("updated_at"))["m"],
        *SubprocessorChange.objects.aggregate(
            a=Max("announced_at"), e=Max("effective_at"), w=Max("withdrawn_at")
        ).values(),
    ]
    stamps = [s for s in stamps if s is not None]
    return max(stamps) if stamps else None


def public_register() -> dict[str, Any]:
    """The public list as one document: the JSON endpoint returns it as is, HTML and CSV render it.

    Field names are stable (documented in docs/subprocessors.md); internal fields (risk rating,
    owner, DPAs, notes, contacts) and proposed or retired vendors never appear.
    """
    subprocessors = [public_subprocessor(sub) for sub in _public_queryset()]
    changes = [
        public_change(change)
        for change in upcoming_changes().filter(subprocessor__status__in=Subprocessor.PUBLIC_STATUSES)
    ]
    by_slug: dict[str, list[dict[str, Any]]] = {}
    for change in changes:
        by_slug.setdefault(change["subprocessor"], []).append(change)
    for sub in subprocessors:
        sub["upcoming_changes"] = by_slug.get(sub["id"], [])
    return {
        "schema_version": PUBLIC_SCHEMA_VERSION,
        "last_updated": _iso(register_last_updated()),
        "notice_period_days": settings.SUBPROCESSOR_NOTICE_DAYS,
        "subprocessors": subprocessors,
        "upcoming_changes": changes,
    }


PUBLIC_CSV_HEADER = [
    "Name",
    "Legal entity",
    "Website",
    "Category",
    "Service",
    "Status",
    "Purposes",
    "Data categories",
    "Locations and transfer mechanisms",
    "Active since",
    "Upcoming changes",
]


def public_csv_rows(register: dict[str, Any]) -> list[list[str]]:
    rows = []
    for sub in register["subprocessors"]:
        locations = "; ".join(
            f"{loc['country_name']} ({loc['transfer_mechanism_label']}"
            + (f", module {loc['scc_module']}" if loc["scc_module"] else "")
            + ")"
            for loc in sub["locations"]
        )
        changes = "; ".join(
            f"{c['kind_label']}{': ' + c['target'] if c['target'] else ''} effective {c['effective_on']}"
            for c in sub["upcoming_changes"]
        )
        rows.append(
            [
                sub["name"],
                sub["legal_name"],
                sub["website"] or "",
                sub["category_label"],
                sub["service"],
                sub["status"],
                "; ".join(sub["purposes"]),
                "; ".join(c["name"] for c in sub["data_categories"]),
                locations,
                sub["active_since"] or "",
                changes,
            ]
        )
    return rows


def feed_changes(limit: int = 50) -> QuerySet[SubprocessorChange]:
    """Announced and effective changes, newest event first (withdrawn ones are left out)."""
    return (
        SubprocessorChange.objects.filter(
            status__in=[SubprocessorChange.Status.ANNOUNCED, SubprocessorChange.Status.EFFECTIVE]
        )
        .select_related("subprocessor", "location", "purpose", "data_category")
        .order_by("-announced_at", "-pk")[:limit]
    )


# ------------------------------------------------------------------------------
# Transfer report
# ------------------------------------------------------------------------------


ART49_WARNING = (
    "Art. 49 derogations cover occasional transfers only: a subprocessor's regular processing needs another safeguard."
)


@dataclass(frozen=True)
class TransferRow:
    data_category: str
    country_code: str
    country_name: str
    subprocessor: Subprocessor
    mechanism: str
    scc_module: str
    pending: bool
    problem: str
    warning: str = ""


@dataclass
class TransferReport:
    rows: list[TransferRow] = field(default_factory=list)
    categories_without_transfers: list[str] = field(default_factory=list)

    @property
    def gaps(self) -> list[TransferRow]:
        return [row for row in self.rows if row.problem]


def transfer_report(*, today: date | None = None) -> TransferReport:
    """For every data category: the countries it goes to, through whom and under which safeguard.

    Covers every vendor not retired (proposed ones too: better to see a gap before
    announcing). A row's ``problem`` says why its safeguard does not cover the
    transfer, e.g. a country outside the adequacy list with no safeguard.
    """
    today = today or timezone.localdate()
    decisions = {d.country.code: d for d in AdequacyDecision.objects.all()}
    subprocessors = list(
        Subprocessor.objects.exclude(status=Subprocessor.Status.RETIRED).prefetch_related(
            "data_categories", "locations"
        )
    )
    report = TransferReport()
    for category in DataCategory.objects.order_by("display_order", "name"):
        found = False
        for sub in subprocessors:
            if category.pk not in {c.pk for c in sub.data_categories.all()}:
                continue
            for loc in sorted(sub.locations.all(), key=lambda loc: (loc.country.name, loc.mechanism)):
                found = True
                report.rows.append(
                    TransferRow(
                        data_category=category.name,
                        country_code=loc.country.code,
                        country_name=loc.country.name,
                        subprocessor=sub,
                        mechanism=loc.get_mechanism_display(),
                        scc_module=loc.scc_module,
                        pending=loc.is_pending,
                        problem=loc.mechanism_problem(decisions.get(loc.country.code), today),
                        warning=ART49_WARNING if loc.mechanism == ProcessingLocation.Mechanism.ART49_DEROGATION else "",
                    )
                )
        if not found:
            report.categories_without_transfers.append(category.name)
    return report


TRANSFER_CSV_HEADER = [
    "Data category",
    "Country",
    "Country code",
    "Subprocessor",
    "Subprocessor status",
    "Transfer mechanism",
    "SCC module",
    "Pending",
    "Problem",
    "Note",
]


def transfer_csv_rows(report: TransferReport) -> list[list[object]]:
    return [
        [
            row.data_category,
            row.country_name,
            row.country_code,
            str(row.subprocessor),
            row.subprocessor.get_status_display(),
            row.mechanism,
            row.scc_module,
            "yes" if row.pending else "no",
            row.problem,
            row.warning,
        ]
        for row in report.rows
    ]


# ------------------------------------------------------------------------------
# What is due (reminders, digest, dashboard)
# ------------------------------------------------------------------------------


def current_dpas() -> QuerySet[DataProcessingAgreement]:
    """The latest signed DPA of every vendor that is not retired (a register holds dozens, not millions)."""
    pks = {}
    for dpa in DataProcessingAgreement.objects.exclude(subprocessor__status=Subprocessor.Status.RETIRED).order_by(
        "subprocessor_id", "signed_on", "pk"
    ):
        pks[dpa.subprocessor_id] = dpa.pk
    return DataProcessingAgreement.objects.filter(pk__in=pks.values()).select_related(
        "subprocessor", "subprocessor__internal_owner"
    )


def current_attestations() -> QuerySet[SecurityAttestation]:
    """Per vendor (not retired) and kind, the attestation that expires last (older ones are superseded)."""
    pks = {}
    for att in SecurityAttestation.objects.exclude(subprocessor__status=Subprocessor.Status.RETIRED).order_by(
        "subprocessor_id", "kind", "expires_on", "pk"
    ):
        pks[(att.subprocessor_id, att.kind)] = att.pk
    return SecurityAttestation.objects.filter(pk__in=pks.values()).select_related(
        "subprocessor", "subprocessor__internal_owner"
    )


@dataclass
class DueItems:
    today: date
    horizon_days: int
    dpa_reviews: list[DataProcessingAgreement]
    attestation_expiries: list[SecurityAttestation]
    changes_soon: list[SubprocessorChange]
    changes_held: list[SubprocessorChange]
    open_objections: list[ChangeObjection]
    without_dpa: list[Subprocessor]
    proposed: list[Subprocessor]
    transfer_gaps: list[TransferRow]

    @property
    def count(self) -> int:
        return sum(
            len(items)
            for items in (
                self.dpa_reviews,
                self.attestation_expiries,
                self.changes_soon,
                self.changes_held,
                self.open_objections,
                self.without_dpa,
                self.proposed,
                self.transfer_gaps,
            )
        )


def due_items(*, today: date | None = None, horizon_days: int | None = None) -> DueItems:
    """What needs attention: reviews and expiries within the horizon (or overdue), changes due or held."""
    today = today or timezone.localdate()
    horizon_days = horizon_days if horizon_days is not None else max(settings.SUBPROCESSOR_REMINDER_DAYS)
    until = today + timedelta(days=horizon_days)
    changes = SubprocessorChange.objects.filter(status=SubprocessorChange.Status.ANNOUNCED).select_related(
        "subprocessor", "location", "purpose", "data_category"
    )
    held = list(changes.filter(effective_on__lte=today).order_by("effective_on"))
    return DueItems(
        today=today,
        horizon_days=horizon_days,
        dpa_reviews=list(current_dpas().filter(review_on__lte=until).order_by("review_on")),
        attestation_expiries=list(current_attestations().filter(expires_on__lte=until).order_by("expires_on")),
        changes_soon=list(
            changes.filter(effective_on__gt=today, effective_on__lte=today + timedelta(days=14)).order_by(
                "effective_on"
            )
        ),
        changes_held=held,
        open_objections=list(
            ChangeObjection.objects.filter(outcome="")
            .select_related("change__subprocessor", "customer")
            .order_by("received_on")
        ),
        without_dpa=list(
            Subprocessor.objects.filter(status__in=Subprocessor.PUBLIC_STATUSES)
            .exclude(dpas__signed_on__lte=today)
            .order_by("trading_name", "legal_name")
        ),
        proposed=list(Subprocessor.objects.filter(status=Subprocessor.Status.PROPOSED).order_by("created_at")),
        transfer_gaps=_distinct_locations(transfer_report(today=today).gaps),
    )


def _distinct_locations(rows: list[TransferRow]) -> list[TransferRow]:
    """One row per location (the report repeats a location for each data category it receives)."""
    seen, distinct = set(), []
    for row in rows:
        key = (row.subprocessor.pk, row.country_code, row.mechanism)
        if key not in seen:
            seen.add(key)
            distinct.append(row)
    return distinct


def register_counts() -> dict[str, int]:
    """How many vendors are in each status (the dashboard panel)."""
    counts = dict.fromkeys(Subprocessor.Status.values, 0)
    for row in Subprocessor.objects.values("status").annotate(n=Count("pk")):
        counts[row["status"]] = row["n"]
    return counts


# The register warnings of the dashboard, each a filter of the subprocessor list (?attention=...).
ATTENTION = {
    "dpa_review_overdue": "DPA review overdue",
    "dpa_review_due": "DPA review due soon",
    "attestation_expiring": "Attestation expiring or expired",
    "no_signed_dpa": "Public, without a signed DPA",
}


def subprocessors_needing_attention(kind: str, *, today: date | None = None) -> QuerySet[Subprocessor]:
    """The vendors behind one dashboard warning, the same rows :func:`due_items` counts."""
    items = due_items(today=today)
    if kind == "dpa_review_overdue":
        ids = {dpa.subprocessor_id for dpa in items.dpa_reviews if dpa.review_on < items.today}
    elif kind == "dpa_review_due":
        ids = {dpa.subprocessor_id for dpa in items.dpa_reviews if dpa.review_on >= items.today}
    elif kind == "attestation_expiring":
        ids = {att.subprocessor_id for att in items.attestation_expiries}
    elif kind == "no_signed_dpa":
        ids = {vendor.pk for vendor in items.without_dpa}
    else:
        raise ValueError(kind)
    return Subprocessor.objects.filter(pk__in=ids)
