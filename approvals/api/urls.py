from django.urls import path

from . import views

urlpatterns = [
    path(
        "approval-policies/",
        views.ApprovalPolicyListView.as_view(),
        name="approval-policy-list",
    ),
]
