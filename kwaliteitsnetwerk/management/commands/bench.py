"""Measure page speed and sign-up load on the ten-fold demo data (make bench).

Never part of the test suite: timings on shared machines are noisy. Run it on a quiet machine,
against PostgreSQL for numbers that mean something:
    DATABASE_URL=postgres://... make bench
"""

import datetime as dt
import logging
import shutil
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection, reset_queries, transaction
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone

from coalitions.models import Coalition
from events import services as event_services
from events.models import Session
from members.models import Institution, Person, User


class Command(BaseCommand):
    help = "Page timings and a concurrent sign-up load on the --scale 10 demo data."

    def add_arguments(self, parser):
        parser.add_argument(
            "--requests", type=int, default=20, help="Requests per page (default 20)."
        )
        parser.add_argument(
            "--scale", type=int, default=10, help="Demo data scale to seed first (default 10)."
        )
        parser.add_argument(
            "--crowd", type=int, default=200, help="People signing up at once in the load test."
        )
        parser.add_argument(
            "--reminders",
            type=int,
            default=10_000,
            help="Reminders one sweep sends to a local SMTP sink (default 10,000).",
        )
        parser.add_argument(
            "--seconds", type=int, default=5, help="Seconds of load per page over HTTP (default 5)."
        )
        parser.add_argument(
            "--write",
            action="store_true",
            help="Write the HTTP results into docs/benchmark.md (between the bench:http markers).",
        )
        parser.add_argument(
            "--only",
            choices=["pages", "http", "burst", "load", "sweep"],
            help="Run one part only (default: all).",
        )

    def handle(
        self,
        *args,
        requests: int,
        scale: int,
        crowd: int,
        reminders: int,
        only,
        seconds: int,
        write: bool,
        **options,
    ):
        logging.getLogger("celery").setLevel(logging.WARNING)
        if Person.objects.count() < 4000 * scale:
            self.stdout.write(f"Seeding the demo data at scale {scale} (a few minutes, once)…")
            with override_settings(DEBUG=True):
                call_command("seed_demo", scale=scale, verbosity=0)
        if connection.vendor == "postgresql":
            # Fresh statistics, as autovacuum keeps them in production: right after seeding the
            # planner still thinks the people table has a tenth of its rows and hashes all
            # 45,000 to find the leads of one page of coalitions (15 ms instead of 0.3).
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        self.stdout.write(
            f"Data: {Institution.objects.count()} institutions, {Person.objects.count()} people, "
            f"{Coalition.objects.count()} coalitions, {Session.objects.count()} sessions; database: {connection.vendor}"
        )
        if only == "pages":
            self.pages(requests)  # in-process, with query counts
        if only in (None, "http", "burst"):
            if connection.vendor == "postgresql" and shutil.which("wrk"):
                self.http(seconds, crowd, write=write, burst_only=only == "burst")
            else:
                self.stdout.write(
                    "HTTP bench skipped: it needs PostgreSQL and wrk (apt-get install wrk)."
                )
        if only in (None, "load"):
            if connection.vendor == "postgresql":
                with override_settings(
                    MAILERS={
                        "default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
                    }
                ):
                    self.load(crowd)
            else:
                self.stdout.write("Load test skipped: it needs PostgreSQL (row locks).")
        if only in (None, "sweep"):
            self.sweep(reminders)

    def client_for(self, email: str) -> Client:
        client = Client()
        client.force_login(User.objects.get(email=email))
        client.get("/")
        return client

    def pages(self, requests: int) -> None:
        peer = Coalition.objects.filter(name="Peer review in teams").first()
        busy = Session.objects.order_by("-start").first()
        institution = Institution.objects.get(name="Deltion College")
        targets = [
            ("lid@albeda.example", reverse("home")),
            ("lid@albeda.example", reverse("coalitions:list")),
            ("lid@albeda.example", reverse("coalitions:library")),
            ("lid@albeda.example", reverse("events:list")),
            ("lid@albeda.example", reverse("events:detail", args=[busy.pk])),
            ("trekker@deltion.example", reverse("coalitions:detail", args=[peer.pk])),
            ("trekker@deltion.example", reverse("coalitions:board", args=[peer.pk])),
            ("bureau@kwaliteitsnetwerk.example", reverse("members:institution_list")),
            ("bureau@kwaliteitsnetwerk.example", reverse("members:person_list")),
            (
                "bureau@kwaliteitsnetwerk.example",
                reverse("members:institution_detail", args=[institution.pk]),
            ),
            ("bureau@kwaliteitsnetwerk.example", reverse("events:registrations", args=[busy.pk])),
            ("bureau@kwaliteitsnetwerk.example", reverse("events:checkin", args=[busy.pk])),
        ]
        self.stdout.write(f"\n{'page':<45} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
        clients: dict[str, Client] = {}
        with override_settings(DEBUG=True, ALLOWED_HOSTS=["testserver"]):
            for email, url in targets:
                client = clients.setdefault(email, self.client_for(email))
                client.get(url)  # warm up
                times = []
                for _ in range(requests):
                    reset_queries()
                    started = time.perf_counter()
                    response = client.get(url)
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, (url, response.status_code)
                queries = len(connection.queries)
                p95 = sorted(times)[max(0, int(len(times) * 0.95) - 1)]
                self.stdout.write(
                    f"{url:<45} {statistics.median(times):>10.1f} {p95:>8.1f} {queries:>8}"
                )

    def http(self, seconds: int, crowd: int, *, write: bool, burst_only: bool = False) -> None:
        """Every main page and HTMX action over HTTP at 8 connections, each as a share of the
        two references served by the same gunicorn in the same run; then the sign-up burst."""
        from . import _http

        peer = Coalition.objects.filter(name="Peer review in teams").first()
        busy = Session.objects.order_by("-start").first()
        institution = Institution.objects.get(name="Deltion College")
        member, lead, bureau = (
            User.objects.get(email=e)
            for e in (
                "lid@albeda.example",
                "trekker@deltion.example",
                "bureau@kwaliteitsnetwerk.example",
            )
        )
        pages = [
            (member, "/", False),
            (member, "/coalities/", False),
            (member, "/coalities/opbrengsten/", False),
            (member, "/bijeenkomsten/", False),
            (member, f"/bijeenkomsten/{busy.pk}/", False),
            (member, "/mijn-aanmeldingen/", False),
            (lead, f"/coalities/{peer.pk}/", False),
            (lead, f"/coalities/{peer.pk}/ringen/", False),
            (bureau, "/beheer/", False),
            (bureau, "/instellingen/", False),
            (bureau, "/personen/", False),
            (bureau, f"/instellingen/{institution.pk}/", False),
            (bureau, f"/bijeenkomsten/{busy.pk}/aanmeldingen/", False),
            (bureau, f"/bijeenkomsten/{busy.pk}/inchecken/", False),
            (bureau, "/beheer/deelname/", False),
            (bureau, "/beheer/cijfers/", False),
            (bureau, "/beheer/berichten/", False),
            # HTMX actions (the part of the page they swap)
            (bureau, "/instellingen/?q=roc", True),
            (bureau, "/beheer/logboek/?wat=session.changed", True),
            (bureau, f"/bijeenkomsten/{busy.pk}/inchecken/?wie=an", True),
        ]
        results = {}  # cached or not → (reference, bare, rows)
        for cached in (False, True):
            if burst_only and not cached:
                continue
            rows = []
            with _http.Server(cache_fragments=cached) as server:
                cookies = {user.pk: server.cookie_for(user) for user in (member, lead, bureau)}
                bare = _http.wrk(server, "/_bench/ok", "", seconds=seconds, connections=8)
                reference = _http.wrk(
                    server, "/_bench/een-query/", cookies[member.pk], seconds=seconds, connections=8
                )
                self.stdout.write(
                    f"\nFragment caching {'on' if cached else 'off'}: reference "
                    f"{reference['rps']:.0f}/s"
                )
                for user, path, htmx in [] if burst_only else pages:
                    _http.wrk(server, path, cookies[user.pk], seconds=1, connections=2, htmx=htmx)
                    result = _http.wrk(
                        server, path, cookies[user.pk], seconds=seconds, connections=8, htmx=htmx
                    )
                    rows.append((path, htmx, result))
                    self.stdout.write(
                        f"{path:<45} {result['rps']:>7.0f}/s p50 {result['p50']:>6.1f} p95 "
                        f"{result['p95']:>6.1f} ms  {result['rps'] / reference['rps']:.2f} of ref"
                    )
                results[cached] = (reference, bare, rows)
                if cached:
                    burst = self.http_burst(server, crowd)
        report = self.http_report(results, burst)
        self.stdout.write(report)
        if write and not burst_only:
            self.write_section(report)

    def http_burst(self, server, crowd: int) -> dict:
        """200 people, each with their own login, post the HTMX sign-up at once over 50
        connections for 100 places."""
        from . import _http

        start = timezone.now() + dt.timedelta(days=30)
        session = Session.objects.create(
            title=f"Benchmark {timezone.now():%H%M%S}",
            start=start,
            end=start + dt.timedelta(hours=3),
            capacity=crowd // 2,
            status=Session.Status.PUBLISHED,
        )
        people = list(
            Person.objects.filter(erased_at__isnull=True, institution__kind="roc")
            .select_related("user")
            .order_by("pk")[:crowd]
        )
        for person in people:  # the bench's own accounts for the crowd (bench data only)
            if person.user_id is None:
                person.user = User.objects.filter(email__iexact=person.email).first() or (
                    User.objects.create_user(email=person.email, password=None)
                )
                person.save(update_fields=["user"])
        load = _http.burst(server, session, people, workers=50)
        result = {
            "load": load,
            "confirmed": session.registrations.confirmed().count(),
            "waiting": session.registrations.waitlisted().count(),
            "crowd": len(people),
            "capacity": session.capacity,
        }
        session.delete()
        return result

    def http_report(self, results: dict, burst: dict) -> str:
        """One table: each endpoint with fragment caching off and on, each as a share of the
        logged-in reference served by the same server in the same run."""
        lines = [
            f"Over HTTP: gunicorn with 3 workers, `DEBUG=0`, the production middleware, "
            f"PostgreSQL{', Redis' if settings.REDIS_URL else ''}; wrk with 8 connections "
            f"from another process, logged-in users; {timezone.localdate():%Y-%m-%d}. Each "
            f"endpoint with the cached fragments off (`CACHE_FRAGMENTS=0`) and on.",
            "",
            "| endpoint | off: req/s | off: share | off: p95 ms | on: req/s | on: share "
            "| on: p95 ms | errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        off = results.get(False)
        on = results.get(True)
        if off and on:
            (ref_off, bare_off, rows_off), (ref_on, bare_on, rows_on) = off, on
            lines.append(
                f"| reference: bare `ok`, no middleware | {bare_off['rps']:.0f} | – | "
                f"{bare_off['p95']:.1f} | {bare_on['rps']:.0f} | – | {bare_on['p95']:.1f} | "
                f"{bare_off['errors'] + bare_on['errors']} |"
            )
            lines.append(
                f"| reference: logged-in, one query | {ref_off['rps']:.0f} | 1.00 | "
                f"{ref_off['p95']:.1f} | {ref_on['rps']:.0f} | 1.00 | {ref_on['p95']:.1f} | "
                f"{ref_off['errors'] + ref_on['errors']} |"
            )
            for (path, htmx, a), (_path, _htmx, b) in zip(rows_off, rows_on, strict=True):
                name = f"`{path}`" + (" (HTMX)" if htmx else "")
                lines.append(
                    f"| {name} | {a['rps']:.0f} | {a['rps'] / ref_off['rps']:.2f} | "
                    f"{a['p95']:.1f} | {b['rps']:.0f} | {b['rps'] / ref_on['rps']:.2f} | "
                    f"{b['p95']:.1f} | {a['errors'] + b['errors']} |"
                )
        load = burst["load"]
        lines += [
            "",
            f"Sign-up burst over HTTP (caching on): {burst['crowd']} people post the HTMX "
            f"sign-up at once (50 connections, each their own login) for {burst['capacity']} "
            f"places: {burst['confirmed']} confirmed, {burst['waiting']} waiting, "
            f"{len(load['errors'])} errors; {burst['confirmed'] / load['total']:.0f} "
            f"confirmed/s, p50 {load['p50']:.0f} ms, p95 {load['p95']:.0f} ms.",
        ]
        return "\n".join(lines) + "\n"

    def write_section(self, report: str) -> None:
        from pathlib import Path

        path = Path(settings.BASE_DIR) / "docs" / "benchmark.md"
        text = path.read_text()
        start, end = "<!-- bench:http -->", "<!-- /bench:http -->"
        if start in text:
            before, rest = text.split(start, 1)
            after = rest.split(end, 1)[1]
        else:
            before, after = text.rstrip() + "\n\n## Over HTTP\n\n", "\n"
        path.write_text(f"{before}{start}\n{report}{end}{after}")

    def load(self, crowd: int) -> None:
        start = timezone.now() + dt.timedelta(days=30)
        session = Session.objects.create(
            title=f"Benchmark {timezone.now():%H%M%S}",
            start=start,
            end=start + dt.timedelta(hours=3),
            capacity=crowd // 2,
            status=Session.Status.PUBLISHED,
        )
        people = list(Person.objects.filter(erased_at__isnull=True).order_by("?")[:crowd])
        # As many at once as a deployment has database connections for (web workers), not more.
        workers = min(len(people), 40)
        barrier = threading.Barrier(workers)
        durations: list[float] = []
        errors: list[str] = []

        def sign_up(person):
            try:
                if threading.current_thread().name not in started:
                    started.add(threading.current_thread().name)
                    barrier.wait()
                began = time.perf_counter()
                event_services.register(person, session)
                durations.append((time.perf_counter() - began) * 1000)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors.append(f"{type(exc).__name__}: {exc}")

        started: set[str] = set()
        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(sign_up, people))
        total = time.perf_counter() - began
        confirmed = session.registrations.confirmed().count()
        waiting = session.registrations.waitlisted().count()
        self.stdout.write(
            f"\nLoad: {len(people)} people sign up through {workers} connections at once for {session.capacity} places: "
            f"{confirmed} confirmed, {waiting} waiting, {len(people) / total:.0f} sign-ups/s, "
            f"median {statistics.median(durations):.0f} ms, max {max(durations):.0f} ms"
        )
        if errors:
            self.stderr.write(f"{len(errors)} sign-ups failed, e.g. {errors[0]}")
        if confirmed > session.capacity:
            self.stderr.write("OVERSOLD: the capacity did not hold.")
        session.delete()

    def sweep(self, count: int) -> None:
        """One sweep of the beat that finds `count` reminders due (a session tomorrow with that
        many people signed up) and sends them over SMTP to a local sink in another process,
        which counts what arrives: each must arrive once."""
        import multiprocessing
        from unittest import mock

        from events.models import Registration
        from members import notify
        from members.models import Notification
        from members.tasks import sweep

        # Whatever else is due in the demo data goes first (with the locmem backend), so what
        # the measured sweep sends is the reminders below.
        with override_settings(
            MAILERS={"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
        ):
            sweep()
        people = list(
            Person.objects.filter(erased_at__isnull=True).values_list("pk", flat=True)[:count]
        )
        if len(people) < count:
            self.stderr.write(f"Only {len(people)} people to remind; seed a larger scale.")
        start = timezone.now() + dt.timedelta(hours=20)
        session = Session.objects.create(
            title=f"Sweep benchmark {timezone.now():%H%M%S}",
            start=start,
            end=start + dt.timedelta(hours=3),
            status=Session.Status.PUBLISHED,
            address="Stationsplein 1, Zwolle",
        )
        signed_up = timezone.now() - dt.timedelta(days=3)
        Registration.objects.bulk_create(
            [
                Registration(
                    person_id=pk,
                    session=session,
                    status=Registration.Status.CONFIRMED,
                    queued_at=signed_up,
                )
                for pk in people
            ],
            batch_size=2000,
        )
        port_reader, port_writer = multiprocessing.Pipe(duplex=False)
        stop = multiprocessing.Event()
        result_reader, result_writer = multiprocessing.Pipe(duplex=False)
        sink = multiprocessing.Process(
            target=_smtp_sink, args=(port_writer, stop, result_writer), daemon=True
        )
        sink.start()
        port = port_reader.recv()
        smtp = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 20},
            }
        }
        rule = notify.RULES["events.reminders"]
        timed = {}
        # A second worker process sends beside the sweep, as the worker pool does in
        # production (NOTIFICATION_SENDERS): each claims its own chunks.
        go = multiprocessing.Event()
        helper_reader, helper_writer = multiprocessing.Pipe(duplex=False)
        connection.close()
        helper = multiprocessing.Process(
            target=_second_sender, args=(smtp, go, helper_writer), daemon=True
        )
        helper.start()

        def timed_rule(now):
            began = time.perf_counter()
            try:
                return rule(now)
            finally:
                timed["rule"] = time.perf_counter() - began
                transaction.on_commit(go.set)

        try:
            with (
                override_settings(MAILERS=smtp),
                CaptureQueries() as queries,
                mock.patch.dict(notify.RULES, {"events.reminders": timed_rule}),
            ):
                began = time.perf_counter()
                result = sweep()
                helped = helper_reader.recv()
                took = time.perf_counter() - began
        finally:
            stop.set()
            received = result_reader.recv()
            sink.join(timeout=10)
        ours = Notification.objects.filter(
            kind="session_reminder", occasion__startswith=f"events.session:{session.pk}:"
        )
        sent = ours.filter(status=Notification.Status.SENT).count()
        ids = [mid for mid in received if mid]
        self.stdout.write(
            f"\nSweep: {result['queued'].get('events.reminders', 0)} reminders queued and "
            f"{sent} sent in {took:.1f} s ({sent / took:.0f}/s) over SMTP to a local sink; "
            f"received {len(ids)}, distinct {len(set(ids))}; {queries.count} queries; "
            f"queuing (rendering text, HTML and .ics) took {timed.get('rule', 0):.1f} s; "
            f"the sweep sent {result['handled']}, a second worker process {helped}"
        )
        if len(ids) != len(set(ids)):
            self.stderr.write("DUPLICATES: a reminder arrived twice.")
        ours.delete()
        session.delete()


class CaptureQueries:
    """Counts the queries of a block without DEBUG (a connection wrapper)."""

    def __enter__(self):
        self.count = 0

        def counter(execute, sql, params, many, context):
            self.count += 1
            return execute(sql, params, many, context)

        self._wrapper = connection.execute_wrapper(counter)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        self._wrapper.__exit__(*exc)


def _second_sender(smtp, go, result_writer) -> None:
    """Another worker process: sends what is due until nothing is left (forked: the database
    connection was closed before, so it opens its own)."""
    from members.tasks import send_all

    go.wait()
    with override_settings(MAILERS=smtp):
        handled = send_all()
    connection.close()
    result_writer.send(handled)


def _smtp_sink(port_writer, stop, result_writer) -> None:
    """A local SMTP server (aiosmtpd) in its own process that keeps each message's Message-ID."""
    import logging
    import socket

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every line
    received: list[str] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            for line in envelope.content.split(b"\r\n"):
                if line.lower().startswith(b"message-id:"):
                    received.append(line.split(b":", 1)[1].strip().decode())
                    break
                if not line:
                    received.append("")
                    break
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    port_writer.send(port)
    stop.wait()
    controller.stop()
    result_writer.send(received)
