from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("beheer/", views.bureau_dashboard, name="bureau_dashboard"),
    path("beheer/logboek/", views.activity_log, name="activity_log"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("account/", include("allauth.urls")),
    path("", include("members.urls")),
    path("coalities/", include("coalitions.urls")),
    path("bijeenkomsten/", include("events.urls")),
    path("django-admin/", admin.site.urls),
]
