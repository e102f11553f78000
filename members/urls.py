from django.urls import path

from . import views

app_name = "members"
urlpatterns = [
    path("instellingen/", views.institution_list, name="institution_list"),
    path("instellingen/nieuw/", views.institution_edit, name="institution_create"),
    path("instellingen/<int:pk>/", views.institution_detail, name="institution_detail"),
    path("instellingen/<int:pk>/bewerken/", views.institution_edit, name="institution_edit"),
    path(
        "instellingen/<int:pk>/lidmaatschap-beeindigen/",
        views.institution_end_membership,
        name="institution_end_membership",
    ),
    path("personen/", views.person_list, name="person_list"),
    path("personen/nieuw/", views.person_edit, name="person_create"),
    path("personen/<int:pk>/", views.person_detail, name="person_detail"),
    path("personen/<int:pk>/bewerken/", views.person_edit, name="person_edit"),
    path("personen/<int:pk>/uitnodigen/", views.person_invite, name="person_invite"),
    path("importeren/<str:kind>/", views.import_csv, name="import"),
    path("exporteren/<str:kind>.csv", views.export_csv, name="export"),
    path("uitnodiging/<str:token>/", views.accept_invitation, name="accept_invitation"),
    path(
        "uitnodiging/<str:token>/nieuwe-link/",
        views.request_new_invitation,
        name="request_new_invitation",
    ),
    path("beheer/bewaartermijn/", views.retention_overview, name="retention"),
    path(
        "beheer/bewaartermijn/<int:pk>/uitstellen/",
        views.retention_postpone,
        name="retention_postpone",
    ),
    path("mijn-account/", views.my_account, name="my_account"),
    # Under /account/: open to an account the second-factor rule still holds back.
    path(
        "account/tweede-factor/bevestigen/",
        views.confirm_factor_pending,
        name="confirm_factor_pending",
    ),
    path(
        "account/tweede-factor/bevestigen/<str:token>/",
        views.confirm_factor,
        name="confirm_factor",
    ),
    path("e-mail/uitschrijven/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("beheer/berichten/", views.outbox, name="outbox"),
    path("beheer/berichten/<int:pk>/opnieuw/", views.outbox_resend, name="outbox_resend"),
    path("mijn-account/mijn-gegevens.json", views.my_data, name="my_data"),
    path("mijn-account/verwijderen/", views.erase_me, name="erase_me"),
]
