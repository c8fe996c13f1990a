"""SPEC OPS-2: the health checks from the command line; docker-compose's worker and beat checks."""
from django.core.management.base import BaseCommand, CommandError

from mutualaid.health import check_beat, check_worker, health_checks


class Command(BaseCommand):
    help = "Exit 0 when the checks pass: all of them, or one queue's worker stamp (--worker), or beat's (--beat)."

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--worker", metavar="QUEUE", help="only the stamp of the worker(s) consuming QUEUE")
        which.add_argument("--beat", action="store_true", help="only beat's stamp")

    def handle(self, *args, worker=None, beat=False, **options):
        # A container checks its own process's stamp whatever HEALTH_CHECK_CELERY says.
        checks = [check_worker(worker)] if worker else [check_beat()] if beat else health_checks()
        for check in checks:
            age = "-" if check.age_seconds is None else f"{check.age_seconds:.0f}s"
            self.stdout.write(f"{check.name}: {'ok' if check.ok else 'FAIL'} (age {age}) {check.detail}".rstrip())
        if not all(check.ok for check in checks):
            raise CommandError("unhealthy")
