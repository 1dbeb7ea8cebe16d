"""Demo step of the data map: the sample platform's map, and a manual system with an open task."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model

from compliance.connectors import ConnectorError, ConnectorPending, get_connector
from compliance.datamap import datamap_import, datamap_import_file
from compliance.models import SystemOfRecord

PLATFORM_MAP = settings.BASE_DIR / "sample_platform" / "datamap.yaml"
PLATFORM_SLUG = "studio-platform"

FINANCE_DRIVE = {
    "version": 1,
    "systems": [
        {
            "slug": "finance-shared-drive",
            "name": "Finance shared drive",
            "owner": "Finance",
            "kind": "manual",
            "manual_assignee": "officer",
            "manual_instructions": "Search the 'Customers' and 'Refunds' folders and the expense spreadsheets. "
            "Never email personal data: put exports in the compliance folder.",
            "description": "Spreadsheets and scanned letters kept by the finance team.",
            "data_categories": ["billing-transactions"],
            "tables": [
                {
                    "name": "refund-letters",
                    "description": "Scanned refund correspondence, one folder per customer.",
                    "primary_key": "file",
                    "subject_column": "customer-email",
                    "subject_key": "email",
                    "source": "person",
                    "columns": [
                        {"name": "customer-email", "category": "billing-transactions", "treatment": "delete_row"},
                        {"name": "letter", "category": "billing-transactions", "treatment": "delete_row"},
                        {"name": "sent-on", "not_personal": True, "treatment": "keep", "timestamp": True},
                    ],
                }
            ],
        }
    ],
}


def load_demo(stdout) -> None:
    """Load the sample platform's data map and the finance drive; open one manual task (idempotent)."""
    report = datamap_import_file(PLATFORM_MAP)
    stdout.write(f"Data map of the sample platform: {report}.")
    if get_user_model().objects.filter(username="officer").exists():
        report = datamap_import(FINANCE_DRIVE)
        stdout.write(f"Data map of the finance shared drive: {report}.")
        platform = SystemOfRecord.objects.get(slug=PLATFORM_SLUG)
        finance = SystemOfRecord.objects.get(slug="finance-shared-drive")
        try:
            subjects = get_connector(platform).sample_subjects(1)
            if subjects:
                get_connector(finance).locate(subjects[0])
        except ConnectorPending as pending:
            stdout.write(f"Finance shared drive: {pending.reference} waits for the officer.")
        except ConnectorError as exc:
            stdout.write(f"Finance shared drive: no demo task ({exc}).")
