"""URLs for the HTTP benchmark: the app's own, plus a bare DRF PATCH of an opportunity
(ModelSerializer + UpdateAPIView, no services, no gate) as the baseline that
``submit_for_approval`` and ``approve`` are compared with. Loaded only when the bench
server runs with ROOT_URLCONF=bench.urls."""

from django.urls import include, path
from rest_framework import generics, serializers

from opportunities.models import Opportunity


class BareOpportunitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Opportunity
        fields = ["id", "name", "version"]


class BarePatch(generics.UpdateAPIView):
    queryset = Opportunity.objects.all()
    serializer_class = BareOpportunitySerializer


urlpatterns = [
    path("bench/bare/<int:pk>/", BarePatch.as_view()),
    path("", include("closedwon.urls")),
]
