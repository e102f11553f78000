from django.db.models import Count
from django.shortcuts import get_object_or_404, render

from .access import bureau_required
from .models import Institution


@bureau_required
def institution_list(request):
    institutions = Institution.objects.annotate(people_count=Count("people")).order_by("name")
    return render(request, "members/institution_list.html", {"institutions": institutions})


@bureau_required
def institution_detail(request, pk: int):
    institution = get_object_or_404(Institution, pk=pk)
    people = institution.people.dutch_order()
    return render(
        request, "members/institution_detail.html", {"institution": institution, "people": people}
    )
