from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compliance.models import (
    DataCategory,
    LegalBasis,
    ProcessingActivity,
    ProcessingPurpose,
    Regime,
    RegimeRight,
    Right,
    SubjectType,
)

MODELS = [DataCategory, ProcessingPurpose, LegalBasis, SubjectType, Right, Regime, RegimeRight, ProcessingActivity]


def _snapshot():
    return {
        model.__name__: (model.objects.count(), model.history.count() if hasattr(model, "history") else 0)
        for model in MODELS
    }


def test_baseline_loads_the_policy_taxonomy(db):
    call_command("load_policy_baseline")
    assert set(DataCategory.objects.values_list("slug", flat=True)) == {
        "account-identity",
        "billing-transactions",
        "api-usage",
        "content",
        "support",
    }
    assert ProcessingPurpose.objects.count() == 9
    assert set(LegalBasis.objects.values_list("slug", flat=True)) >= {
        "contract",
        "legitimate-interests",
        "legal-obligation",
        "consent",
        "vital-interests",
        "public-task",
    }
    assert SubjectType.objects.count() == 4
    assert set(Regime.objects.values_list("code", flat=True)) == {
        "eu_gdpr",
        "uk_gdpr",
        "ccpa",
        "vcdpa",
        "cpa",
        "ctdpa",
        "tdpsa",
        "ucpa",
        "ocpa",
        "mcdpa",
        "icdpa",
        "dpdpa",
        "nhpa",
        "njdpa",
        "ndpa",
        "tipa",
        "mcdpa_mn",
        "modpa",
        "incdpa",
        "kcdpa",
        "ridtppa",
        "lgpd",
        "pipeda",
        "quebec",
        "fadp",
    }


def test_regime_rights_follow_the_regulations(db):
    call_command("load_policy_baseline")

    def rights(code):
        return set(RegimeRight.objects.filter(regime__code=code).values_list("right__slug", flat=True))

    assert rights("uk_gdpr") == {
        "access",
        "rectification",
        "erasure",
        "restriction",
        "objection",
        "portability",
        "withdraw_consent",
    }
    assert rights("ccpa") == {"access", "rectification", "erasure", "portability", "opt_out", "limit_sensitive"}
    assert rights("pipeda") == {"access", "rectification", "withdraw_consent"}
    # Quebec: deletion (s.28) and de-indexing (s.28.1, an objection line) are rights (issue 13).
    assert {"erasure", "objection"} <= rights("quebec")
    assert rights("icdpa") == {"access", "erasure", "portability", "opt_out", "withdraw_consent"}
    withdraw = RegimeRight.objects.get(regime__code="ctdpa", right__slug="withdraw_consent")
    assert (withdraw.response_period, withdraw.response_unit) == (15, "calendar_days")
    access = RegimeRight.objects.get(regime__code="uk_gdpr", right__slug="access")
    assert access.clarification_pauses_clock
    assert not RegimeRight.objects.get(regime__code="uk_gdpr", right__slug="erasure").clarification_pauses_clock
    opt_out = RegimeRight.objects.get(regime__code="ccpa", right__slug="opt_out")
    assert (opt_out.response_period, opt_out.response_unit, opt_out.identity_verification_allowed) == (
        15,
        "business_days",
        False,
    )
    uk = Regime.objects.get(code="uk_gdpr")
    assert uk.identity_starts_clock and uk.clarification_pauses_clock
    assert str(uk.clock_rules_from) == "2026-02-05"
    ccpa = Regime.objects.get(code="ccpa")
    assert (ccpa.response_period, ccpa.extension_period, ccpa.acknowledge_period) == (45, 45, 10)
    assert Regime.objects.get(code="quebec").extension_period is None


def test_loading_twice_changes_nothing(db):
    call_command("load_policy_baseline")
    before = _snapshot()
    with CaptureQueriesContext(connection) as queries:
        call_command("load_policy_baseline")
    assert _snapshot() == before
    writes = [q["sql"] for q in queries if q["sql"].split()[0] in {"INSERT", "UPDATE", "DELETE"}]
    assert writes == []


def test_reload_keeps_staff_corrections_unless_asked_to_update(db):
    call_command("load_policy_baseline")
    Regime.objects.filter(code="fadp").update(internal_margin_days=9)
    call_command("load_policy_baseline")
    assert Regime.objects.get(code="fadp").internal_margin_days == 9
    call_command("load_policy_baseline", "--update")
    assert Regime.objects.get(code="fadp").internal_margin_days == 3
