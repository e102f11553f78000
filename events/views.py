from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render

from members.access import is_bureau

from .models import Session


def _sessions_for(request):
    """Bureau staff see drafts too; everyone else sees published and cancelled sessions."""
    sessions = Session.objects.select_related("host_institution")
    if not is_bureau(request):
        sessions = sessions.exclude(status=Session.Status.DRAFT)
    return sessions


@login_required
def session_list(request):
    past = request.GET.get("when") == "past"
    sessions = _sessions_for(request)
    sessions = sessions.past() if past else sessions.upcoming()
    return render(request, "events/session_list.html", {"sessions": sessions, "past": past})


@login_required
def session_detail(request, pk: int):
    session = get_object_or_404(_sessions_for(request).prefetch_related("coalitions"), pk=pk)
    return render(request, "events/session_detail.html", {"session": session})
