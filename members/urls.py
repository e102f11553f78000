from django.urls import path

from . import views

app_name = "members"
urlpatterns = [
    path("instellingen/", views.institution_list, name="institution_list"),
    path("instellingen/<int:pk>/", views.institution_detail, name="institution_detail"),
]
