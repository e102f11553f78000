from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from members.models import has_second_factor

from . import views

# The Django admin is a back door for superusers: its login is allauth's (second factor, rate
# limits), and where BUREAU_REQUIRE_MFA is on it opens only for an account with a second factor.
admin.site.login = secure_admin_login(admin.site.login)
_admin_has_permission = admin.site.has_permission


def _admin_permission(request) -> bool:
    return _admin_has_permission(request) and (
        not settings.BUREAU_REQUIRE_MFA or has_second_factor(request.user.pk)
    )


admin.site.has_permission = _admin_permission

# An uncaught error; when the database is gone, the calm 503 page (views.server_error).
handler500 = "kwaliteitsnetwerk.views.server_error"

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("healthz", views.healthz, name="healthz"),
    path("mijn-aanmeldingen/", views.my_registrations, name="my_registrations"),
    path("beheer/", views.bureau_dashboard, name="bureau_dashboard"),
    path("beheer/signalen/<slug:key>/", views.bureau_signal, name="bureau_signal"),
    path("beheer/logboek/", views.activity_log, name="activity_log"),
    path("beheer/deelname/", views.participation, name="participation"),
    path("beheer/cijfers/", views.figures, name="figures"),
    path("beheer/cijfers/jaarverslag.xlsx", views.annual_report, name="annual_report"),
    path("beheer/netwerk/", views.network_picture, name="network_picture"),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("account/", include("allauth.urls")),
    path("", include("members.urls")),
    path("coalities/", include("coalitions.urls")),
    path("bijeenkomsten/", include("events.urls")),
    path("django-admin/", admin.site.urls),
]

if settings.BENCH_REFERENCE:  # make bench only: the minimal logged-in page with one query
    urlpatterns.append(path("_bench/een-query/", views.bench_reference))
