from __future__ import annotations

from django.urls import path

from .api import EventListView

urlpatterns = [path("events/", EventListView.as_view(), name="event-list")]
