from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import get_object_or_404, render

from members.access import person_of

from .models import Coalition


@login_required
def coalition_list(request):
    coalitions = Coalition.objects.prefetch_related("leads__institution")
    query = request.GET.get("q", "").strip()
    if query:
        coalitions = coalitions.filter(
            Q(name__icontains=query) | Q(theme__icontains=query) | Q(assignment__icontains=query)
        )
    status = request.GET.get("status", "")
    if status in Coalition.Status.values:
        coalitions = coalitions.filter(status=status)
    mine = request.GET.get("mine") == "1"
    if mine:
        coalitions = coalitions.led_by(person_of(request))
    context = {
        "coalitions": coalitions,
        "query": query,
        "status": status,
        "mine": mine,
        "statuses": Coalition.Status.choices,
    }
    return render(request, "coalitions/coalition_list.html", context)


@login_required
def coalition_detail(request, pk: int):
    coalition = get_object_or_404(
        Coalition.objects.select_related("bureau_contact").prefetch_related("leads__institution"),
        pk=pk,
    )
    return render(request, "coalitions/coalition_detail.html", {"coalition": coalition})
