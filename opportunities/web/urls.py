"""Rep browser routes."""

from django.urls import path

from . import board as web_board
from . import fixit as web_fixit
from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("signed-in/", views.signed_in, name="signed_in"),
    path("pipeline/", views.pipeline, name="pipeline"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("opportunities/", views.opportunity_list, name="opportunity-list"),
    path("opportunities/new/", views.opportunity_create, name="opportunity-create"),
    path(
        "opportunities/new/checklist/",
        views.checklist_preview,
        name="opportunity-new-checklist",
    ),
    path("opportunities/new-account/", views.account_create, name="opportunity-account-create"),
    path("opportunities/new-contact/", views.contact_create, name="opportunity-contact-create"),
    path("opportunities/contact-field/", views.contact_field, name="opportunity-contact-field"),
    path("opportunities/<int:pk>/", views.opportunity_detail, name="opportunity-detail"),
    path("opportunities/<int:pk>/edit/", views.opportunity_edit, name="opportunity-edit"),
    path(
        "opportunities/<int:pk>/checklist/",
        views.checklist_preview,
        name="opportunity-checklist",
    ),
    path(
        "opportunities/<int:pk>/transitions/<str:name>/",
        views.opportunity_transition,
        name="opportunity-transition",
    ),
    path("opportunities/<int:pk>/fix/<str:name>/", web_fixit.fixit, name="opportunity-fixit"),
    path("opportunities/<int:pk>/next-step/", web_board.next_step, name="opportunity-next-step"),
    path("approvals/<int:pk>/handoffs/", web_board.approval_handoffs, name="approval-handoffs"),
]
