import random

from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings
from django.utils import translation

from coalitions.demo import seed_coalitions, seed_cycle
from events.demo import seed_sessions
from members.demo import seed_members


class Command(BaseCommand):
    help = "Builds a believable demo network (idempotent). --scale 10 makes the benchmark data set."

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale", type=int, default=1, help="Multiply the amount of data (default 1)."
        )

    def handle(self, *args, scale: int, **options):
        if scale < 1:
            scale = 1
        # A fixed seed: the same network every time, so re-runs change nothing.
        rng = random.Random(2013)
        # One transaction: a failed run leaves no half-built network behind.
        # No mail for the made-up history (confirmations, requests): the outbox records it as sent.
        quiet = override_settings(
            MAILERS={"default": {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"}}
        )
        with quiet, transaction.atomic(), translation.override("nl"):
            members = seed_members(scale=scale, rng=rng)
            coalitions = seed_coalitions(scale=scale, rng=rng, demo=members["demo"])
            sessions = seed_sessions(scale=scale, rng=rng)
            rounds = seed_cycle(rng=rng, demo=members["demo"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo network ready: {len(members['institutions'])} institutions, "
                f"{len(coalitions)} coalitions, {len(sessions)} sessions, "
                f"{len(rounds)} theme rounds."
            )
        )
        if members["demo"]:
            self.stdout.write(
                "Demo accounts (password: demo-wachtwoord): "
                + ", ".join(p.email for p in members["demo"].values())
            )
