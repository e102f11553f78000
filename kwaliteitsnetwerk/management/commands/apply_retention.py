"""Retention by hand or from cron, for installs without a Celery beat: anonymise the people
whose retention period has passed, the same service the beat's daily task calls."""

from django.core.management.base import BaseCommand

from members.services import apply_retention


class Command(BaseCommand):
    help = "Anonymise the people whose retention period has passed (what the beat does daily)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--limit", type=int, default=200, help="At most this many people per run (200)."
        )

    def handle(self, *args, limit: int, **options):
        erased = apply_retention(limit=limit)
        self.stdout.write(f"anonymised: {erased}")
