from django.urls import path

from . import views

app_name = "coalitions"
urlpatterns = [
    path("", views.coalition_list, name="list"),
    path("<int:pk>/", views.coalition_detail, name="detail"),
]
