from django.core.management.base import BaseCommand, CommandError

from compliance.datamap import DataMapFileError, datamap_import_file


class Command(BaseCommand):
    help = (
        "Create or update the data map from a YAML file. All or nothing: names are checked against each "
        "system's database and every problem is listed. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The YAML file, e.g. sample_platform/datamap.yaml")
        parser.add_argument(
            "--prune", action="store_true", help="Remove tables and columns of the file's systems it does not list."
        )

    def handle(self, *args, **options):
        try:
            report = datamap_import_file(options["path"], prune=options["prune"])
        except FileNotFoundError:
            raise CommandError(f"No file {options['path']}") from None
        except DataMapFileError as exc:
            for problem in exc.problems:
                self.stderr.write(problem)
            raise CommandError(f"Nothing imported: {len(exc.problems)} problem(s).") from None
        for entry in report.not_in_file:
            self.stdout.write(f"not in the file (kept; --prune removes it): {entry}")
        self.stdout.write(self.style.SUCCESS(f"Data map imported: {report}"))
