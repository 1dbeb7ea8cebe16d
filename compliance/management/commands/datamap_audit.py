from django.core.management.base import BaseCommand, CommandError

from compliance.datamap import datamap_audit
from compliance.models import SystemOfRecord


class Command(BaseCommand):
    help = (
        "Compare the data map of every active SQL system with its database: fail (exit status 1, one line "
        "per problem) on mapped tables or columns that do not exist, on columns the map does not classify, "
        "and on tables of the database the map neither maps nor marks reviewed as not personal."
    )

    def add_arguments(self, parser):
        parser.add_argument("--system", action="append", default=[], help="Slug of a system (repeatable; default all).")
        parser.add_argument(
            "--mapped-only",
            action="store_true",
            help="Check only the tables the map lists, not the database's other tables (the behaviour before "
            "unmapped tables were reported; for a transition while the map is completed).",
        )

    def handle(self, *args, **options):
        systems = SystemOfRecord.objects.filter(kind=SystemOfRecord.Kind.SQL, is_active=True)
        if options["system"]:
            systems = systems.filter(slug__in=options["system"])
            missing = sorted(set(options["system"]) - set(systems.values_list("slug", flat=True)))
            if missing:
                raise CommandError(f"No active SQL system with slug {missing[0]!r}.")
        problems = datamap_audit(systems=systems, unmapped_tables=not options["mapped_only"])
        for problem in problems:
            self.stdout.write(problem)
        if problems:
            raise CommandError(f"datamap_audit: {len(problems)} problem(s) in {systems.count()} system(s).")
        self.stdout.write(self.style.SUCCESS(f"datamap_audit: {systems.count()} system(s), no problems."))
