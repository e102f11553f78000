import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from members.models import Person, User
from tests.conftest import login

ROOT = Path(__file__).resolve().parent.parent
PROD_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 20 + "-a-long-random-production-secret-key-0123456789",
    "ALLOWED_HOSTS": "kwaliteitsnetwerk.example",
    "DATABASE_URL": "sqlite:////tmp/kn-check.sqlite3",
}


def run_manage(*args, env_overrides):
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DEBUG",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
            "EMAIL_BACKEND",
        }
    }
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


class TestSettings:
    def test_it_refuses_to_start_in_production_without_a_secret_key(self):
        result = run_manage("check", env_overrides={**PROD_ENV, "SECRET_KEY": ""})
        assert result.returncode != 0
        assert "SECRET_KEY is not set" in result.stderr

    def test_it_refuses_a_short_secret_key_in_production(self):
        result = run_manage("check", env_overrides={**PROD_ENV, "SECRET_KEY": "short"})
        assert result.returncode != 0
        assert "SECRET_KEY is too short" in result.stderr

    @pytest.mark.parametrize(
        "placeholder",
        [
            "change-me-to-a-long-random-string-of-at-least-fifty-characters",
            "django-insecure-" + "x" * 50,
            "replace-me-" + "y" * 50,
        ],
    )
    def test_it_refuses_a_placeholder_secret_key_in_production(self, placeholder):
        result = run_manage("check", env_overrides={**PROD_ENV, "SECRET_KEY": placeholder})
        assert result.returncode != 0
        assert "SECRET_KEY is a placeholder" in result.stderr

    def test_compose_has_no_default_secret_key(self):
        compose = (ROOT / "docker-compose.yml").read_text()
        line = next(x for x in compose.splitlines() if x.strip().startswith("SECRET_KEY:"))
        assert "${SECRET_KEY:?" in line
        assert ":-" not in line

    def test_it_refuses_production_without_allowed_hosts(self):
        result = run_manage("check", env_overrides={**PROD_ENV, "ALLOWED_HOSTS": ""})
        assert result.returncode != 0
        assert "ALLOWED_HOSTS is not set" in result.stderr

    def test_check_deploy_is_clean_with_production_settings(self):
        result = run_manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=PROD_ENV)
        assert result.returncode == 0, result.stdout + result.stderr

    @pytest.mark.django_db
    def test_migrations_match_the_models(self):
        call_command("makemigrations", "--check", "--dry-run", verbosity=0)

    def test_the_python_version_file_names_313(self):
        assert (ROOT / ".python-version").read_text().strip() == "3.13"


class TestAccess:
    def test_an_anonymous_visitor_is_sent_to_the_login_page(self, client, db):
        response = client.get(reverse("home"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))

    def test_the_login_page_speaks_dutch_and_says_inloggen(self, client, db):
        response = client.get(reverse("account_login"))
        body = response.content.decode()
        assert response.status_code == 200
        assert '<html lang="nl">' in body
        assert "Inloggen" in body
        # "Aanmelden" is for sessions in this network, never for accounts.
        assert "Aanmelden" not in body

    def test_english_is_available(self, client, member):
        login(client, member)
        client.post(reverse("set_language"), {"language": "en", "next": "/"})
        body = client.get(reverse("home")).content.decode()
        assert '<html lang="en">' in body
        assert "Overview" in body

    def test_a_member_sees_the_member_navigation(self, client, member):
        body = login(client, member).get(reverse("home")).content.decode()
        for key in ("home", "coalitions", "sessions"):
            assert f'data-nav="{key}"' in body
        for key in ("institutions", "bureau", "my_coalitions"):
            assert f'data-nav="{key}"' not in body

    def test_a_lead_also_sees_their_coalitions(self, client, lead):
        body = login(client, lead).get(reverse("home")).content.decode()
        assert 'data-nav="my_coalitions"' in body
        assert 'data-nav="institutions"' not in body

    def test_bureau_staff_see_institutions_and_administration(self, client, bureau):
        body = login(client, bureau).get(reverse("home")).content.decode()
        assert 'data-nav="institutions"' in body
        assert 'data-nav="bureau"' in body
        assert "Instellingen" in body
        assert "Beheer" in body

    def test_a_member_gets_403_on_the_bureau_pages(self, client, member):
        login(client, member)
        for url in (reverse("bureau_dashboard"), reverse("members:institution_list")):
            response = client.get(url)
            assert response.status_code == 403
            assert "Je hebt geen toegang tot deze pagina" in response.content.decode()

    def test_an_unknown_page_is_a_dutch_404(self, client, member):
        response = login(client, member).get("/bestaat-niet/")
        assert response.status_code == 404
        assert "Pagina niet gevonden" in response.content.decode()

    def test_pages_carry_a_csp_with_a_nonce_used_by_the_htmx_script(self, client, member):
        response = login(client, member).get(reverse("home"))
        csp = response["Content-Security-Policy"]
        nonce = csp.split("'nonce-")[1].split("'")[0]
        assert "script-src 'self' 'nonce-" in csp
        assert f'nonce="{nonce}"' in response.content.decode()
        assert "unsafe-inline" not in csp
        assert "unsafe-eval" not in csp


class TestSignup:
    def post_signup(self, client, email):
        return client.post(
            reverse("account_signup"),
            {
                "email": email,
                "password1": "een-goed-wachtwoord-42",
                "password2": "een-goed-wachtwoord-42",
                "first_name": "Noor",
                "last_name": "de Groot",
            },
        )

    def test_it_refuses_an_address_outside_the_member_institutions(self, client, institution):
        response = self.post_signup(client, "noor@gmail.example")
        assert response.status_code == 200
        assert (
            "alleen een account aanmaken met een e-mailadres van een aangesloten instelling"
            in response.content.decode()
        )
        assert not User.objects.filter(email="noor@gmail.example").exists()

    def test_it_refuses_an_institution_that_left_the_network(self, client, institution):
        institution.member_until = "2020-07-31"
        institution.save()
        response = self.post_signup(client, "noor@deltion.example")
        assert not User.objects.exists()
        assert "aangesloten instelling" in response.content.decode()

    def confirm(self, client):
        """Follow the verification link of the last mail, as the owner of the address does."""
        url = re.search(r"https?://[^/\s]+(/account/confirm-email/\S+)", mail.outbox[-1].body)[1]
        return client.post(url)

    def test_it_links_a_member_domain_to_its_institution_once_the_address_is_verified(
        self, client, institution
    ):
        response = self.post_signup(client, "Noor@Deltion.example")
        assert response.status_code == 302
        user = User.objects.get(email="noor@deltion.example")
        assert not Person.objects.filter(user=user).exists()  # not before verification
        assert len(mail.outbox) == 1
        assert "noor@deltion.example" in mail.outbox[0].to
        self.confirm(client)
        user.refresh_from_db()
        assert user.person.institution == institution
        assert user.person.last_name == "de Groot"
        assert user.signup_name == {}

    def test_it_links_an_existing_person_with_that_address_only_after_verification(
        self, client, institution, bureau
    ):
        from members import services
        from tests.factories import make_person

        person = make_person("Noor", "Groot", institution, email="noor@deltion.example")
        self.post_signup(client, "noor@deltion.example")
        person.refresh_from_db()
        assert person.user is None  # an unverified sign-up claims nobody
        _invitation, token = services.invite(person, invited_by=bureau)
        self.confirm(client)
        person.refresh_from_db()
        assert person.user is not None
        assert person.first_name == "Noor"  # the bureau's entry, not the sign-up's name
        assert Person.objects.filter(email__iexact="noor@deltion.example").count() == 1
        with pytest.raises(services.InvitationError):
            services.check_invitation(token)  # the account exists now: the link is spent


class TestHealth:
    def test_healthz_reports_the_database(self, client, db):
        response = client.get(reverse("healthz"))
        assert response.status_code == 200
        data = json.loads(response.content)
        assert data["database"] == "ok"
        assert data["status"] == "ok"

    def test_healthz_reports_the_broker_when_configured(self, client, db, settings, redis_url):
        settings.REDIS_URL = redis_url
        data = json.loads(client.get(reverse("healthz")).content)
        assert data["broker"] == "ok"

    def test_healthz_reports_an_unreachable_broker(self, client, db, settings):
        settings.REDIS_URL = "redis://127.0.0.1:1/0"
        response = client.get(reverse("healthz"))
        assert response.status_code == 503
        assert json.loads(response.content)["broker"].startswith("error")


class TestDemoData:
    def test_seed_demo_is_idempotent_and_makes_the_demo_accounts(self, db, settings):
        settings.DEBUG = True
        call_command("seed_demo", verbosity=0)
        counts = (User.objects.count(), Person.objects.count())
        call_command("seed_demo", verbosity=0)
        assert (User.objects.count(), Person.objects.count()) == counts
        emails = set(User.objects.values_list("email", flat=True))
        assert {
            "bureau@kwaliteitsnetwerk.example",
            "trekker@deltion.example",
            "lid@albeda.example",
        } <= emails
        assert Person.objects.get(email="bureau@kwaliteitsnetwerk.example").is_bureau_staff
        assert Person.objects.get(email="trekker@deltion.example").led_coalitions.exists()

    def test_seed_demo_shows_the_yearly_cycle_a_closed_round_and_an_open_one(
        self, db, settings, time_machine
    ):
        """Seeded years after the demo was written (its closed coalitions once had fixed school
        years, and the conference past had nothing of the year before to present)."""
        from django.db import models

        from coalitions.models import Coalition, Proposal, Support, ThemeRound
        from events.models import Presentation
        from tests.factories import in_school_year

        settings.DEBUG = True
        time_machine.move_to(in_school_year(10, 15, 10, offset=3))
        call_command("seed_demo", verbosity=0)
        counts = (ThemeRound.objects.count(), Proposal.objects.count(), Support.objects.count())
        call_command("seed_demo", verbosity=0)
        assert (
            ThemeRound.objects.count(),
            Proposal.objects.count(),
            Support.objects.count(),
        ) == counts
        closed, open_round = ThemeRound.objects.order_by("school_year")
        assert closed.is_closed()
        assert open_round.is_open()
        chosen = closed.proposals.filter(status=Proposal.Status.CHOSEN)
        assert chosen.exists()
        assert all(p.coalition.school_year == closed.school_year for p in chosen)
        assert closed.proposals.get(status=Proposal.Status.DECLINED).decision_reason
        assert open_round.proposals.filter(status=Proposal.Status.OPEN).count() >= 3
        assert Support.objects.filter(proposal__round=open_round).exists()
        assert Coalition.objects.get(name="Data 3.0").line()[-1].name == "Data 2.0"
        assert Presentation.objects.exists()  # the last conference's harvest
        # Nobody has more votes in a round than it allows.
        for theme_round in (closed, open_round):
            most = (
                Support.objects.filter(proposal__round=theme_round)
                .values("person")
                .annotate(n=models.Count("pk"))
                .order_by("-n")
                .first()
            )
            assert most["n"] <= theme_round.votes_per_person

    def test_seed_demo_makes_no_accounts_without_debug(self, db, settings):
        settings.DEBUG = False
        call_command("seed_demo", verbosity=0)
        assert not User.objects.exists()
        assert Person.objects.count() > 4000


class TestComposeFile:
    def test_compose_has_the_production_like_stack(self):
        import yaml

        compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
        services = compose["services"]
        assert {"web", "worker", "beat", "db", "redis", "mail"} <= set(services)
        assert "gunicorn" in str(services["web"]["command"])
        # Migrated once, before anything that needs the tables starts (replicas would race).
        assert "migrate" in str(services["migrate"]["command"])
        for name in ("web", "worker", "beat"):
            depends = services[name]["depends_on"]
            assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert "celery" in str(services["worker"]["command"])
        assert "worker" in str(services["worker"]["command"])
        assert "beat" in str(services["beat"]["command"])
        for name in ("web", "db", "redis"):
            assert "healthcheck" in services[name], name
        assert services["web"]["environment"]["DEBUG"] == "0"
        assert (ROOT / "Dockerfile").exists()

    def test_a_process_that_exits_is_started_again_and_the_worker_is_checked(self):
        import yaml

        services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
        for name in ("web", "worker", "beat", "proxy", "db", "redis"):
            assert services[name]["restart"] in ("unless-stopped", "on-failure", "always"), name
        check = " ".join(services["worker"]["healthcheck"]["test"])
        # Pings this worker by its own node name over the broker: a dead worker fails it.
        assert "inspect ping" in check
        assert "celery@$$HOSTNAME" in check  # $$: the container's variable, not compose's

    def test_only_the_proxy_is_published_in_front_of_two_web_replicas(self):
        import yaml

        services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
        published = {
            name: service["ports"] for name, service in services.items() if "ports" in service
        }
        assert published == {"proxy": ["8000:80"], "mail": ["127.0.0.1:8025:8025"]}
        assert services["proxy"]["image"].startswith("caddy:2")
        assert services["web"]["deploy"]["replicas"] == 2
        assert services["web"]["environment"]["TRUSTED_PROXY_COUNT"] == "1"
        assert "TRUSTED_PROXY_COUNT" not in services["worker"]["environment"]
        mount = next(v for v in services["proxy"]["volumes"] if "Caddyfile" in v)
        caddyfile = ROOT / mount.split(":")[0]
        assert caddyfile.exists()
        text = caddyfile.read_text()
        assert "reverse_proxy" in text
        assert "name web" in text
        assert "port 8000" in text


class TestNetworkHealth:
    def test_the_bureau_sees_ending_coalitions_thin_cores_and_absent_institutions(
        self, client, bureau, institution, other_institution
    ):
        import datetime as dt

        from django.utils import timezone

        from tests.factories import make_coalition, make_membership, make_person

        today = timezone.localdate()
        ending = make_coalition(
            "Bijna klaar",
            start=today - dt.timedelta(days=200),
            planned_end=today + dt.timedelta(days=20),
        )
        make_coalition("Loopt nog", start=today, planned_end=today + dt.timedelta(days=300))
        make_membership(make_person("Deel", "Nemer", institution), ending.rings.get(order=1))
        body = login(client, bureau).get(reverse("bureau_dashboard")).content.decode()
        ending_block = body[body.index('id="signaal-ending"') :]
        assert "Bijna klaar" in ending_block[: ending_block.index("</section>")]
        assert "Loopt nog" not in ending_block[: ending_block.index("</section>")]
        thin = body[body.index('id="signaal-rings"') :]
        assert "1 van minstens 5" in thin[: thin.index("</section>")]
        nowhere = body[body.index('id="signaal-nowhere"') :]
        nowhere = nowhere[: nowhere.index("</section>")]
        assert "Albeda" in nowhere
        assert "Deltion College" not in nowhere

    def test_the_dashboard_runs_a_fixed_number_of_queries(
        self, client, bureau, django_assert_max_num_queries
    ):
        from tests.factories import make_coalition, make_institution, make_membership, make_person

        def grow(n):
            for _ in range(n):
                institution = make_institution()
                coalition = make_coalition()
                make_membership(make_person("G", None, institution), coalition.rings.get(order=1))

        login(client, bureau).get(reverse("home"))
        grow(2)
        with django_assert_max_num_queries(20) as small:
            client.get(reverse("bureau_dashboard"))
        grow(10)
        with django_assert_max_num_queries(len(small.captured_queries)):
            client.get(reverse("bureau_dashboard"))


class TestBureauSecondFactor:
    def test_bureau_pages_ask_for_two_factor_first_when_required(self, client, bureau, settings):
        settings.BUREAU_REQUIRE_MFA = True
        response = login(client, bureau).get(reverse("bureau_dashboard"))
        assert response.status_code == 302
        assert response["Location"] == reverse("mfa_activate_totp")

    def test_with_an_authenticator_app_the_bureau_gets_in(self, client, bureau, settings):
        from tests.factories import give_second_factor

        settings.BUREAU_REQUIRE_MFA = True
        give_second_factor(bureau.user)
        assert login(client, bureau).get(reverse("bureau_dashboard")).status_code == 200

    def test_production_requires_it_by_default(self):
        result = run_manage(
            "shell",
            "-c",
            "from django.conf import settings; print(settings.BUREAU_REQUIRE_MFA)",
            env_overrides=PROD_ENV,
        )
        assert result.stdout.strip().endswith("True"), result.stderr


def test_the_overview_runs_a_fixed_number_of_queries(client, member, django_assert_max_num_queries):
    import datetime as dt

    from django.utils import timezone

    from events.models import Registration, Session
    from tests.factories import make_coalition, make_membership

    def grow(n):
        for _ in range(n):
            coalition = make_coalition()
            make_membership(member, coalition.rings.get(order=2))
            start = timezone.now() + dt.timedelta(days=10)
            session = Session.objects.create(
                title="S", start=start, end=start + dt.timedelta(hours=2), status="gepubliceerd"
            )
            Registration.objects.create(person=member, session=session, status="bevestigd")

    from django.core.cache import cache

    login(client, member).get(reverse("home"))
    grow(2)
    cache.clear()
    with django_assert_max_num_queries(16) as small:
        client.get(reverse("home"))
    grow(10)
    cache.clear()
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(reverse("home"))


@pytest.mark.postgres_only
def test_people_have_an_index_in_the_dutch_order(db):
    """The people list and the check-in search walk it with a LIMIT (980 → 45 ms at scale 10)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'person_dutch_order'")
        [(definition,)] = cursor.fetchall()
    assert 'COLLATE "nl-x-icu"' in definition
