"""Rules: bad input refused with a clear message; every rule has a beat entry staff can see."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django_celery_beat.models import PeriodicTask

from compliance.models import DataCategory, LegalBasis
from retention.models import RetentionRule
from retention.services import retention_rule_delete, retention_rule_save
from retention.services.rules import mapped_column_lookup, mapped_table_lookup


def messages_of(excinfo) -> str:
    return " ".join(excinfo.value.messages)


@pytest.mark.django_db
@pytest.mark.parametrize("period", [0, -5])
def test_a_period_of_zero_or_less_is_refused(make_rule, period):
    with pytest.raises(ValidationError) as excinfo:
        make_rule(period=period)
    assert "positive" in messages_of(excinfo)
    assert not RetentionRule.objects.exists()


@pytest.mark.django_db
def test_the_database_refuses_a_zero_period_even_past_the_service(make_rule):
    rule = make_rule()
    with pytest.raises(IntegrityError), transaction.atomic():
        RetentionRule.objects.filter(pk=rule.pk).update(period=0)


@pytest.mark.django_db
def test_a_trigger_column_that_is_not_a_timestamp_is_refused(make_rule, minimap):
    with pytest.raises(ValidationError) as excinfo:
        make_rule(trigger_column=minimap.columns["api_requests.model_id"])
    assert "'model_id'" in messages_of(excinfo) and "not a timestamp" in messages_of(excinfo)


@pytest.mark.django_db
def test_a_row_timestamp_of_another_table_is_refused(make_rule, minimap):
    with pytest.raises(ValidationError) as excinfo:
        make_rule(trigger_column=minimap.columns["invoices.issued_at"])
    assert "a row timestamp must be a column of the swept table" in messages_of(excinfo)


@pytest.mark.django_db
def test_a_subject_event_must_be_on_the_join_path(make_rule, minimap):
    content = DataCategory.objects.get(slug="content")
    with pytest.raises(ValidationError) as excinfo:
        make_rule(
            table=minimap.prompts,
            data_category=content,
            trigger="subject_event",
            trigger_column=minimap.columns["invoices.issued_at"],
        )
    assert "not on the join path" in messages_of(excinfo)
    rule = make_rule(
        table=minimap.prompts,
        data_category=content,
        trigger="subject_event",
        trigger_column=minimap.columns["api_requests.created_at"],
    )
    assert rule.pk


@pytest.mark.django_db
def test_a_rule_on_an_unmapped_table_or_column_is_refused_with_its_name(minimap):
    with pytest.raises(ValidationError) as excinfo:
        mapped_table_lookup(system_slug="mini", table_name="shadow_copies")
    assert "'shadow_copies' is not in the data map" in messages_of(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        mapped_column_lookup(table=minimap.api_requests, column_name="deleted_at")
    assert "'deleted_at'" in messages_of(excinfo)
    assert mapped_column_lookup(table=minimap.prompts, column_name="api_requests.created_at").table == (
        minimap.api_requests
    )


@pytest.mark.django_db
def test_overlapping_rules_for_the_same_table_and_action_are_refused(make_rule):
    make_rule(name="First", period=90)
    with pytest.raises(ValidationError) as excinfo:
        make_rule(name="Second", period=30)
    assert "Another rule already applies this action to this table" in messages_of(excinfo)
    assert make_rule(name="Anonymise", action="anonymise", period=30).pk  # another action is fine


@pytest.mark.django_db
def test_a_legal_obligation_must_cite_its_source(make_rule, minimap):
    billing = DataCategory.objects.get(slug="billing-transactions")
    obligation = LegalBasis.objects.get(slug="legal-obligation")
    kwargs = dict(
        table=minimap.invoices,
        data_category=billing,
        trigger_column=minimap.columns["invoices.issued_at"],
        legal_basis=obligation,
        period=6,
        period_unit="years",
        period_anchor="financial_year_end",
    )
    with pytest.raises(ValidationError) as excinfo:
        make_rule(**kwargs)
    assert "must cite its source" in messages_of(excinfo)
    assert make_rule(legal_source="VAT Notice 700/21", **kwargs).legal_source == "VAT Notice 700/21"


@pytest.mark.django_db
def test_a_category_the_table_does_not_hold_is_refused(make_rule):
    with pytest.raises(ValidationError) as excinfo:
        make_rule(data_category=DataCategory.objects.get(slug="support"))
    assert "holds no column of the category" in messages_of(excinfo)


@pytest.mark.django_db
def test_a_cadence_beat_cannot_run_is_refused(make_rule):
    with pytest.raises(ValidationError) as excinfo:
        make_rule(cadence="every night")
    assert "five crontab fields" in messages_of(excinfo)


@pytest.mark.django_db
def test_each_rule_gets_a_beat_entry_following_its_cadence_and_enabled_flag(make_rule, officer):
    rule = make_rule(cadence="15 3 * * 1")
    task = PeriodicTask.objects.get(pk=rule.periodic_task_id)
    assert task.task == "retention.tasks.retention_rule_start_task"
    assert task.args == f"[{rule.pk}]"
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("15", "3", "1")
    assert task.enabled

    rule.is_enabled = False
    rule.cadence = "0 4 * * *"
    retention_rule_save(rule=rule, actor=officer)
    task.refresh_from_db()
    assert not task.enabled and task.crontab.hour == "4"
    assert PeriodicTask.objects.filter(task="retention.tasks.retention_rule_start_task").count() == 1


@pytest.mark.django_db
def test_deleting_a_rule_that_never_ran_removes_its_beat_entry(make_rule, officer):
    rule = make_rule()
    task_id = rule.periodic_task_id
    retention_rule_delete(rule=rule, actor=officer)
    assert not PeriodicTask.objects.filter(pk=task_id).exists()


@pytest.mark.django_db
def test_rule_changes_are_recorded_in_history_with_the_actor(make_rule, officer):
    rule = make_rule()
    rule.period = 120
    retention_rule_save(rule=rule, actor=officer)
    history = list(rule.history.order_by("history_date"))
    assert [h.period for h in history] == [90, 120]
    assert history[-1].history_user == officer
