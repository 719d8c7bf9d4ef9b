"""Who may change the approval policy, and that a published version never changes:
the services, the admin actions, the admin's rule and step pages, and the API."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.test import Client

from approvals import services
from approvals.models import (
    ApprovalPolicy,
    ApprovalRule,
    ApprovalStep,
    PublishedPolicyLocked,
)
from core import errors
from tests.api.conftest import client_for, problem
from tests.factories import make_user, policy_author

pytestmark = pytest.mark.django_db

POLICIES = "/admin/approvals/approvalpolicy/"
RULES = "/admin/approvals/approvalrule/"


@pytest.fixture
def finance_staff(fiona):
    """The demo's fiona: Finance, staff (she decides Finance's steps in the admin), role rep."""
    fiona.is_staff = True
    fiona.save()
    return fiona


def _admin(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _draft(policy, revops) -> ApprovalPolicy:
    return services.policy_copy_to_draft(policy, actor=revops)


# --- who may change it ----------------------------------------------------------------------


def test_an_approver_group_member_cannot_publish_copy_or_save_through_the_services(
    finance_staff, revops, policy
):
    draft = _draft(policy, revops)
    for call in (
        lambda: services.policy_publish(draft, actor=finance_staff),
        lambda: services.policy_copy_to_draft(policy, actor=finance_staff),
        lambda: services.policy_save({"rules": []}, actor=finance_staff),
        lambda: services.policy_publish(draft, actor=None),
    ):
        with pytest.raises(errors.PermissionDenied) as denied:
            call()
        assert denied.value.code == "permission_denied"
    draft.refresh_from_db()
    assert draft.is_draft
    assert ApprovalPolicy.objects.count() == 2  # the published one and the draft


def test_the_change_permission_alone_is_enough(revops, policy):
    author = policy_author()
    draft = _draft(policy, revops)
    assert services.policy_publish(draft, actor=author).version == policy.version + 1


def test_an_approver_group_member_sees_no_publish_action_and_cannot_post_it(
    finance_staff, revops, policy
):
    draft = _draft(policy, revops)
    fiona = _admin(finance_staff)
    listing = fiona.get(POLICIES)
    assert listing.status_code == 200  # she may read the policy
    assert 'value="publish"' not in listing.content.decode()
    assert 'value="copy_to_draft"' not in listing.content.decode()
    posted = fiona.post(
        POLICIES, {"action": "publish", ACTION_CHECKBOX_NAME: [draft.pk]}, follow=True
    )
    assert posted.status_code == 200
    draft.refresh_from_db()
    assert draft.is_draft
    fiona.post(POLICIES, {"action": "copy_to_draft", ACTION_CHECKBOX_NAME: [policy.pk]})
    assert ApprovalPolicy.objects.count() == 2

    ops = _admin(revops)
    assert 'value="publish"' in ops.get(POLICIES).content.decode()
    ops.post(POLICIES, {"action": "publish", ACTION_CHECKBOX_NAME: [draft.pk]})
    draft.refresh_from_db()
    assert draft.version == policy.version + 1


def test_the_api_refuses_a_member_of_another_group_and_takes_a_policy_author(finance_staff):
    body = {"rules": [{"name": "r", "steps": [{"group": "Finance"}]}]}
    problem(
        client_for(finance_staff).post("/api/v1/approval-policies/", body, format="json"),
        403,
        "permission_denied",
    )
    assert not ApprovalPolicy.objects.exists()
    created = client_for(policy_author()).post("/api/v1/approval-policies/", body, format="json")
    assert created.status_code == 201, created.content


# --- published versions are never edited ----------------------------------------------------


def test_revops_cannot_add_or_delete_rules_and_steps_of_a_published_version_in_the_admin(
    revops, policy, finance_group
):
    ops = _admin(revops)
    rule = policy.rules.get()
    step = rule.steps.get()

    # Adding a rule: the published version is not a choice, and a forged POST is refused.
    def choices():
        form = ops.get(f"{RULES}add/").context["adminform"].form
        return list(form.fields["policy"].queryset)

    assert choices() == []
    draft = _draft(policy, revops)
    assert choices() == [draft]
    forged = ops.post(
        f"{RULES}add/",
        {
            "policy": policy.pk,
            "order": 5,
            "name": "Sneaky",
            "type_in": "[]",
            "billing_country_in": "[]",
            "steps-TOTAL_FORMS": "1",
            "steps-INITIAL_FORMS": "0",
            "steps-0-order": "0",
            "steps-0-group": finance_group.pk,
            "steps-0-mode": "any",
            "steps-0-count": "1",
            "steps-0-sla_hours": "8",
        },
    )
    assert forged.status_code == 200 and "Select a valid choice" in forged.content.decode()
    assert policy.rules.count() == 1
    # Deleting a rule of it: no permission, on the page and by the bulk action.
    assert ops.get(f"{RULES}{rule.pk}/delete/").status_code == 403
    ops.post(RULES, {"action": "delete_selected", ACTION_CHECKBOX_NAME: [rule.pk], "post": "yes"})
    assert ApprovalRule.objects.filter(pk=rule.pk).exists()
    # Its steps: the rule's page is read-only, a POST changes nothing.
    ops.post(
        f"{RULES}{rule.pk}/change/",
        {
            "policy": policy.pk,
            "order": 0,
            "name": rule.name,
            "type_in": "[]",
            "billing_country_in": "[]",
            "steps-TOTAL_FORMS": "1",
            "steps-INITIAL_FORMS": "1",
            "steps-0-id": step.pk,
            "steps-0-rule": rule.pk,
            "steps-0-DELETE": "on",
        },
    )
    assert ApprovalStep.objects.filter(pk=step.pk).exists()


def test_the_models_refuse_edits_of_a_published_version_whoever_calls(
    revops, policy, finance_group
):
    rule = policy.rules.get()
    step = rule.steps.get()
    edits = (
        lambda: ApprovalRule.objects.create(policy=policy, name="late"),
        lambda: ApprovalStep.objects.create(rule=rule, group=finance_group),
        lambda: rule.delete(),
        lambda: step.delete(),
        lambda: ApprovalRule.objects.filter(pk=rule.pk).delete(),
        lambda: ApprovalStep.objects.filter(pk=step.pk).delete(),
        lambda: ApprovalPolicy.objects.filter(pk=policy.pk).delete(),
        lambda: policy.delete(),
    )
    for edit in edits:
        with pytest.raises(PublishedPolicyLocked) as locked:
            edit()
        assert locked.value.code == "record_locked"
    rule.name = "renamed"
    with pytest.raises(PublishedPolicyLocked):
        rule.save()
    policy.name = "renamed"
    with pytest.raises(PublishedPolicyLocked):
        policy.save()
    # Moving a draft's rule into the published version is an edit of that version too.
    draft = _draft(policy, revops)
    moved = draft.rules.get()
    moved.policy = policy
    with pytest.raises(PublishedPolicyLocked):
        moved.save()
    assert list(policy.rules.values_list("name", flat=True)) == ["Big deals"]
    assert policy.rules.get().steps.count() == 1
    # A draft is edited and deleted freely.
    extra = ApprovalRule.objects.create(policy=draft, name="extra")
    ApprovalStep.objects.create(rule=extra, group=finance_group)
    extra.delete()
    draft.delete()
    assert not ApprovalPolicy.objects.filter(pk=draft.pk).exists()


def test_a_draft_published_while_its_rule_form_was_open_is_refused_with_a_message(
    revops, policy, finance_group
):
    draft = _draft(policy, revops)
    rule = draft.rules.get()
    ops = _admin(revops)
    assert ops.get(f"{RULES}{rule.pk}/change/").status_code == 200
    services.policy_publish(draft, actor=revops)
    late = ops.post(
        f"{RULES}{rule.pk}/change/",
        {
            "policy": draft.pk,
            "order": 0,
            "name": "late edit",
            "type_in": "[]",
            "billing_country_in": "[]",
            "steps-TOTAL_FORMS": "0",
            "steps-INITIAL_FORMS": "0",
        },
    )
    assert late.status_code == 403  # no change permission on a published rule
    rule.refresh_from_db()
    assert rule.name == "Big deals"


def test_an_approver_group_member_cannot_change_group_settings(finance_staff):
    Group.objects.get_or_create(name="Legal")
    with pytest.raises(errors.PermissionDenied):
        services.approver_group_save(
            actor=finance_staff, group=Group.objects.get(name="Legal"), chat_webhook_url=""
        )
    fiona = _admin(make_user("rep", "someone_else"))
    assert fiona.get("/admin/approvals/approvergroup/add/").status_code in (302, 403)
