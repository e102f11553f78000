from django.urls import path

from . import views

app_name = "events"
urlpatterns = [
    path("", views.session_list, name="list"),
    path("nieuw/", views.session_edit, name="create"),
    path("agenda/<str:token>.ics", views.personal_feed, name="feed"),
    path("agenda/vernieuwen/", views.renew_feed, name="renew_feed"),
    path("aanmelding/<int:pk>/afmelden/", views.cancel_registration, name="cancel_registration"),
    path("aanmelding/<int:pk>/aanwezigheid/", views.mark, name="mark"),
    path("<int:pk>/", views.session_detail, name="detail"),
    path("<int:pk>/aanmelden/", views.signup, name="signup"),
    path("<int:pk>/plaatsen/", views.places, name="places"),
    path("<int:pk>/bewerken/", views.session_edit, name="edit"),
    path("<int:pk>/programma/", views.programme, name="programme"),
    path("<int:pk>/programma/coalities/", views.programme_coalitions, name="programme_coalitions"),
    path("<int:pk>/programma/onderdeel/", views.part_edit, name="part_create"),
    path("<int:pk>/programma/onderdeel/<int:part_pk>/", views.part_edit, name="part_edit"),
    path("<int:pk>/publiceren/", views.session_publish, name="publish"),
    path("<int:pk>/annuleren/", views.session_cancel, name="cancel"),
    path("<int:pk>/aanmeldingen/", views.registrations, name="registrations"),
    path("<int:pk>/inchecken/", views.checkin, name="checkin"),
    path("<int:pk>/inchecken/binnenloper/", views.walk_in, name="walk_in"),
    path("<int:pk>/inchecken/gast/", views.add_guest, name="add_guest"),
    path("<int:pk>/presentielijst/", views.presence_list, name="presence_list"),
    path("<int:pk>/opbrengsten/", views.presentations, name="presentations"),
    path("<int:pk>/agenda.ics", views.session_calendar, name="ics"),
]
