from django.core.management.base import BaseCommand, CommandError

from compliance.datamap import datamap_audit
from compliance.models import SystemOfRecord


class Command(BaseCommand):
    help = (
        "Compare the data map of every active SQL system with its database: fail (exit status 1, one line "
        "per problem) on mapped tables or columns that do not exist and on columns the map does not classify."
    )

    def add_arguments(self, parser):
        parser.add_argument("--system", action="append", default=[], help="Slug of a system (repeatable; default all).")

    def handle(self, *args, **options):
        systems = SystemOfRecord.objects.filter(kind=SystemOfRecord.Kind.SQL, is_active=True)
        if options["system"]:
            systems = systems.filter(slug__in=options["system"])
            missing = sorted(set(options["system"]) - set(systems.values_list("slug", flat=True)))
            if missing:
                raise CommandError(f"No active SQL system with slug {missing[0]!r}.")
        problems = datamap_audit(systems=systems)
        for problem in problems:
            self.stdout.write(problem)
        if problems:
            raise CommandError(f"datamap_audit: {len(problems)} problem(s) in {systems.count()} system(s).")
        self.stdout.write(self.style.SUCCESS(f"datamap_audit: {systems.count()} system(s), no problems."))
