from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from compliance.datamap import datamap_dump
from compliance.models import SystemOfRecord


class Command(BaseCommand):
    help = "Write the data map (systems of record, tables, columns) as YAML, to keep in version control."

    def add_arguments(self, parser):
        parser.add_argument("--system", action="append", default=[], help="Slug of a system (repeatable; default all).")
        parser.add_argument("--output", "-o", help="File to write (default: standard output).")

    def handle(self, *args, **options):
        systems = SystemOfRecord.objects.all()
        if options["system"]:
            systems = systems.filter(slug__in=options["system"])
            missing = sorted(set(options["system"]) - set(systems.values_list("slug", flat=True)))
            if missing:
                raise CommandError(f"No system with slug {missing[0]!r}.")
        text = datamap_dump(systems=systems)
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
            self.stdout.write(self.style.SUCCESS(f"Wrote {systems.count()} system(s) to {options['output']}"))
        else:
            self.stdout.write(text, ending="")
