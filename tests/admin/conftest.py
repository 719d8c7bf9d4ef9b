"""Fixtures for the admin tests: deals waiting in the Closed-Won queue, signed-in clients."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from opportunities import services
from opportunities.models import Approval, Decision, Opportunity
from opportunities.stages import Source
from tests.factories import ready_opportunity


def submit(opportunity: Opportunity, actor=None, *, hours_ago: float | None = None) -> Approval:
    """Request Closed-Won for ``deal`` as its owner (or ``actor``) through the service."""
    services.opportunity_transition(
        opportunity=opportunity,
        name="submit_for_approval",
        actor=actor or opportunity.owner,
        source=Source.UI,
    )
    approval = Approval.objects.get(opportunity=opportunity, decision=Decision.PENDING)
    if hours_ago is not None:
        # The only way to make a request old in a test: it was submitted earlier.
        approval.submitted_at = timezone.now() - dt.timedelta(hours=hours_ago)
        approval.save(update_fields=["submitted_at"])
    return approval


def pending_opportunity(owner, *, hours_ago: float | None = None, **fields) -> Approval:
    return submit(ready_opportunity(owner, **fields), hours_ago=hours_ago)


@pytest.fixture
def queue_url() -> str:
    return reverse("admin:opportunities_closedwonapproval_changelist")


def opportunity_url(approval: Approval) -> str:
    return reverse("admin:opportunities_closedwonapproval_change", args=[approval.pk])


def approve_url(approval: Approval) -> str:
    return reverse("admin:opportunities_closedwonapproval_approve", args=[approval.pk])


def reject_url(approval: Approval) -> str:
    return reverse("admin:opportunities_closedwonapproval_reject", args=[approval.pk])


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def revops_client(revops) -> Client:
    return client_for(revops)


def stage_of(opportunity_or_approval) -> str:
    pk = getattr(opportunity_or_approval, "opportunity_id", None) or opportunity_or_approval.pk
    return Opportunity.objects.values_list("stage", flat=True).get(pk=pk)
