"""What other apps read from the register: Art. 19 recipients and the Art. 30 record's recipients."""

from compliance.models import ProcessingActivity
from compliance.selectors import processing_activity_rows
from subprocessors.selectors import recipients_for_categories
from tests.support.factories import SubprocessorFactory


def test_recipients_are_the_active_and_offboarding_vendors_receiving_any_of_the_categories(categories, baseline):
    support, content, billing = categories["support"], categories["content"], categories["billing-transactions"]
    active = SubprocessorFactory(trading_name="Helpdeck", status="active", data_categories=[support, content])
    offboarding = SubprocessorFactory(trading_name="Oldpost", status="offboarding", data_categories=[support])
    SubprocessorFactory(trading_name="Quill", status="proposed", data_categories=[support])
    SubprocessorFactory(trading_name="Cobalt", status="announced", data_categories=[support])
    SubprocessorFactory(trading_name="Gone", status="retired", data_categories=[support])
    SubprocessorFactory(trading_name="Ledger", status="active", data_categories=[billing])
    found = recipients_for_categories(category_ids=[support.pk, content.pk])
    assert list(found) == [active, offboarding]
    assert list(recipients_for_categories(category_ids=[])) == []


def test_the_record_of_processing_lists_its_recipients_from_the_register(active, baseline):
    activity = ProcessingActivity.objects.get(name="Reliability and troubleshooting")
    active.processing_activities.add(activity)
    _, rows = processing_activity_rows(ProcessingActivity.objects.filter(pk=activity.pk))
    assert rows[0][6] == "Nimbus"
