from django.urls import path

from . import views

app_name = "coalitions"
urlpatterns = [
    path("", views.coalition_list, name="list"),
    path("nieuw/", views.coalition_create, name="create"),
    path("opbrengsten/", views.output_library, name="library"),
    path("themas/", views.theme_list, name="themes"),
    path("themarondes/", views.round_list, name="rounds"),
    path("themarondes/nieuw/", views.round_edit, name="round_create"),
    path("themarondes/<int:pk>/", views.round_detail, name="round"),
    path("themarondes/<int:pk>/bewerken/", views.round_edit, name="round_edit"),
    path("themarondes/<int:pk>/sluiten/", views.round_close, name="round_close"),
    path("themarondes/<int:pk>/ranglijst/", views.round_ranking, name="ranking"),
    path("themarondes/<int:pk>/voorstellen/nieuw/", views.proposal_create, name="proposal_create"),
    path("voorstellen/<int:pk>/", views.proposal_detail, name="proposal"),
    path("voorstellen/<int:pk>/steun/", views.proposal_support, name="proposal_support"),
    path("voorstellen/<int:pk>/besluit/", views.proposal_decide, name="proposal_decide"),
    path("werving/", views.recruitment, name="recruitment"),
    path("werving/ring/<int:ring_pk>/", views.recruitment_join, name="recruitment_join"),
    path("lancering/", views.launch, name="launch"),
    path("evaluaties/", views.evaluation_overview, name="evaluations"),
    path("opbrengsten/<int:pk>/download/", views.output_download, name="output_download"),
    path("<int:pk>/", views.coalition_detail, name="detail"),
    path("<int:pk>/bewerken/", views.coalition_edit, name="edit"),
    path("<int:pk>/status/", views.coalition_transition, name="transition"),
    path("<int:pk>/ringen/", views.ring_board, name="board"),
    path("<int:pk>/kandidaten/", views.candidates, name="candidates"),
    path("<int:pk>/evaluatie/", views.evaluation_edit, name="evaluation"),
    path("<int:pk>/ringen/nieuw/", views.ring_edit, name="ring_create"),
    path("<int:pk>/ringen/<int:ring_pk>/bewerken/", views.ring_edit, name="ring_edit"),
    path("<int:pk>/ringen/uitnodigen/", views.ring_invite, name="ring_invite"),
    path("<int:pk>/inbreng/", views.input_create, name="input_create"),
    path("<int:pk>/opbrengsten/nieuw/", views.output_create, name="output_create"),
    path("inbreng/<int:pk>/", views.input_reply, name="input_reply"),
    path("ring/<int:ring_pk>/aansluiten/", views.ring_join, name="ring_join"),
    path(
        "lidmaatschap/<int:membership_pk>/accepteren/", views.request_accept, name="request_accept"
    ),
    path(
        "lidmaatschap/<int:membership_pk>/afwijzen/", views.request_decline, name="request_decline"
    ),
    path(
        "lidmaatschap/<int:membership_pk>/verplaatsen/",
        views.membership_move,
        name="membership_move",
    ),
    path(
        "lidmaatschap/<int:membership_pk>/beeindigen/", views.membership_end, name="membership_end"
    ),
    path(
        "lidmaatschap/<int:membership_pk>/verlaten/",
        views.membership_leave,
        name="membership_leave",
    ),
    path(
        "lidmaatschap/<int:membership_pk>/verzoek-intrekken/",
        views.move_withdraw,
        name="move_withdraw",
    ),
    path(
        "lidmaatschap/<int:membership_pk>/uitnodiging/",
        views.invitation_respond,
        name="invitation_respond",
    ),
]
