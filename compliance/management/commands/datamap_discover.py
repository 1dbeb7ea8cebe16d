from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from compliance.connectors.base import ConnectorError
from compliance.discovery import SAMPLE_ROWS, discover, discovery_draft
from compliance.models import SystemOfRecord


class Command(BaseCommand):
    help = (
        "Suggest how to map every unmapped table and unclassified column of a SQL system (category, subject "
        "link, erasure treatment), from names, types, foreign keys and a bounded sample of values (counts "
        "only). Writes a draft data map for a person to review; nothing is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("--system", required=True, help="Slug of an active SQL system.")
        parser.add_argument("-o", "--output", help="Write the draft YAML here (default: standard output).")
        parser.add_argument("--sample", type=int, default=SAMPLE_ROWS, help=f"Rows per table, at most {SAMPLE_ROWS}.")

    def handle(self, *args, **options):
        system = SystemOfRecord.objects.filter(
            slug=options["system"], kind=SystemOfRecord.Kind.SQL, is_active=True
        ).first()
        if system is None:
            raise CommandError(f"No active SQL system with slug {options['system']!r}.")
        limit = max(0, min(options["sample"], SAMPLE_ROWS))
        try:
            discovery = discover(system, limit=limit)
        except ConnectorError as exc:
            raise CommandError(str(exc)) from None
        draft = discovery_draft(discovery)
        if options["output"]:
            Path(options["output"]).write_text(draft, encoding="utf-8")
            self.stderr.write(
                f"datamap_discover: {len(discovery.tables)} table(s) and {len(discovery.columns)} column(s) "
                f"suggested; draft written to {options['output']} (review it, then import_datamap)."
            )
        else:
            self.stdout.write(draft)
