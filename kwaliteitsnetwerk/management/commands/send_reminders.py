"""One sweep by hand or from cron: queue the reminders and nudges that have become due and send
the outbox (the beat runs the same task every REMINDER_SWEEP_SECONDS)."""

from django.core.management.base import BaseCommand

from members.tasks import sweep


class Command(BaseCommand):
    help = "Queue the reminders and nudges that are due and send everything waiting in the outbox."

    def handle(self, *args, **options):
        result = sweep()
        for rule, count in result["queued"].items():
            self.stdout.write(f"{rule}: {count if count >= 0 else 'FAILED'}")
        self.stdout.write(f"handled: {result['handled']}")
        if any(count < 0 for count in result["queued"].values()):
            raise SystemExit(1)
