"""Multi-step approvals through the transition service, the API and the e-mail links."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import signing
from django.test import Client

from approvals import links, services
from approvals.models import ApprovalDecision, Notification
from core import errors
from handoffs.models import OutgoingMessage
from opportunities import services as opp_services
from opportunities.models import Approval, Opportunity
from opportunities.stages import Source, Stage
from tests.approvals.conftest import BIG
from tests.factories import make_user, ready_opportunity

pytestmark = pytest.mark.django_db


def run(opportunity, name, actor, **params):
    return opp_services.opportunity_transition(
        opportunity=opportunity, name=name, actor=actor, source=Source.API, **params
    )


def stage_of(opportunity):
    return Opportunity.objects.values_list("stage", flat=True).get(pk=opportunity.pk)


def test_two_step_route_is_frozen_and_only_the_last_step_wins(rep, revops, fiona, policy):
    opportunity = ready_opportunity(rep, **BIG)
    run(opportunity, "submit_for_approval", rep)
    approval = Approval.objects.get(opportunity=opportunity)
    assert [s["group"] for s in approval.route] == ["RevOps", "Finance"]
    assert approval.policy_version == policy.version
    # Finance cannot approve before RevOps: not their step.
    with pytest.raises(errors.PermissionDenied) as denied:
        run(opportunity, "approve", fiona)
    assert denied.value.code == "permission_denied"
    run(opportunity, "approve", revops, reason="Looks fine")
    assert stage_of(opportunity) == Stage.PENDING_APPROVAL
    assert not opportunity.handoffs.exists()
    approval.refresh_from_db()
    assert approval.step_index == 1
    # RevOps cannot approve a second step.
    with pytest.raises(errors.AlreadyDecided):
        run(opportunity, "approve", revops)
    # Finance was told, with signed links.
    mail = OutgoingMessage.objects.filter(event_type="email.approval", payload__to=[fiona.email])
    assert mail.count() == 1 and "/approvals/decide/" in mail.get().payload["body"]
    run(opportunity, "approve", fiona)
    assert stage_of(opportunity) == Stage.CLOSED_WON
    assert opportunity.handoffs.count() == 4
    assert [
        (d.group, d.decided_by) for d in ApprovalDecision.objects.filter(approval=approval)
    ] == [
        ("RevOps", revops),
        ("Finance", fiona),
    ]
    texts = list(Notification.objects.filter(user=rep).values_list("text", flat=True))
    assert any("waiting for Finance" in t for t in texts)


def test_owner_never_decides_a_step_and_reject_at_step_two(rep, revops, fiona, policy):
    fiona.groups.add(*revops.groups.all())
    opportunity = ready_opportunity(fiona, **BIG)
    run(opportunity, "submit_for_approval", fiona)
    run(opportunity, "approve", revops)
    with pytest.raises(errors.SelfApprovalForbidden):
        run(opportunity, "approve", fiona)
    other = make_user("rep", "fin2")
    other.groups.add(*fiona.groups.filter(name="Finance"))
    run(opportunity, "reject", other, reason="PO missing countersignature")
    assert stage_of(opportunity) == Stage.NEGOTIATION
    note = Notification.objects.filter(user=fiona, kind="rejected").get()
    assert note.text.endswith("PO missing countersignature")


def test_all_two_step_needs_two_distinct_members(rep, revops, fiona, fred, finance_group):
    services.policy_save(
        {
            "name": "Two",
            "rules": [
                {
                    "name": "All",
                    "conditions": {},
                    "steps": [{"group": "Finance", "mode": "all", "count": 2, "sla_hours": 4}],
                }
            ],
        },
        actor=revops,
    )
    opportunity = ready_opportunity(rep)
    run(opportunity, "submit_for_approval", rep)
    run(opportunity, "approve", revops)
    run(opportunity, "approve", fiona)
    assert stage_of(opportunity) == Stage.PENDING_APPROVAL
    with pytest.raises(errors.AlreadyDecided):
        run(opportunity, "approve", fiona)
    run(opportunity, "approve", fred)
    assert stage_of(opportunity) == Stage.CLOSED_WON


def test_no_rule_is_the_built_in_revops_step(rep, revops, policy):
    opportunity = ready_opportunity(rep)
    run(opportunity, "submit_for_approval", rep)
    assert run(opportunity, "approve", revops).stage == Stage.CLOSED_WON


def test_a_new_version_does_not_change_a_pending_route(rep, revops, policy):
    opportunity = ready_opportunity(rep, **BIG)
    run(opportunity, "submit_for_approval", rep)
    services.policy_save({"name": "Empty", "rules": []}, actor=revops)
    approval = Approval.objects.get(opportunity=opportunity)
    assert [s["group"] for s in approval.route] == ["RevOps", "Finance"]
    assert services.route_for(opportunity) == [approval.route[0]]


def test_policy_save_refuses_bad_definitions(revops):
    with pytest.raises(errors.InvalidInput) as bad:
        services.policy_save(
            {
                "rules": [
                    {"name": "x", "conditions": {"nope": 1}, "steps": []},
                    {"name": "y", "steps": [{"group": "Nobody", "mode": "some"}]},
                ]
            },
            actor=revops,
        )
    assert {e.code for e in bad.value.errors} >= {
        "unknown_parameter",
        "unknown_group",
        "invalid_choice",
    }


def test_api_policy_post_codes(revops):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(revops)
    unknown = api.post(
        "/api/v1/approval-policies/",
        {"rules": [{"name": "r", "steps": [{"group": "Nobody"}]}]},
        format="json",
    )
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_group")
    wrong_type = api.post(
        "/api/v1/approval-policies/",
        {"rules": [{"name": "r", "conditions": {"amount_gte": 5}, "steps": []}]},
        format="json",
    )
    assert (wrong_type.status_code, wrong_type.json()["code"]) == (400, "invalid")
    ok = api.post(
        "/api/v1/approval-policies/",
        {
            "name": "P",
            "rules": [
                {"name": "r", "conditions": {"amount_gte": "5"}, "steps": [{"group": "RevOps"}]}
            ],
        },
        format="json",
    )
    assert ok.status_code == 201 and ok.json()["version"] >= 1


def test_sla_reminder_and_escalation_with_a_frozen_clock(rep, revops, fiona, policy, settings):
    from django.contrib.auth.models import Group

    from approvals.models import ApproverGroup

    boss = make_user("rep", "cfo")
    cfo = Group.objects.create(name="CFO")
    boss.groups.add(cfo)
    ApproverGroup.objects.create(group=Group.objects.get(name="RevOps"), escalation_group=cfo)
    settings.APPROVAL_CALENDAR = {
        "days": [0, 1, 2, 3, 4],
        "start_hour": 9,
        "end_hour": 17,
        "time_zone": "UTC",
    }
    monday = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(monday, tick=False):
        opportunity = ready_opportunity(rep, **BIG)
        run(opportunity, "submit_for_approval", rep)
    reminders = OutgoingMessage.objects.filter(event_type="email.reminder")
    escalations = OutgoingMessage.objects.filter(event_type="email.escalation")
    services.sla_sweep(monday + dt.timedelta(hours=7))
    assert not reminders.exists()
    services.sla_sweep(monday + dt.timedelta(hours=8))  # 17:00: 8 business hours
    assert reminders.count() == 1 and not escalations.exists()
    services.sla_sweep(monday + dt.timedelta(days=1, hours=7, minutes=59))
    assert not escalations.exists()
    services.sla_sweep(monday + dt.timedelta(days=1, hours=8))  # Tuesday 17:00: 16 h
    services.sla_sweep(monday + dt.timedelta(days=1, hours=9))
    assert reminders.count() == 1
    assert list(escalations.values_list("payload__to", flat=True)) == [[boss.email]]


# --- e-mail links ---------------------------------------------------------------------


def _link(opportunity, user, action="approve"):
    approval = Approval.objects.get(opportunity=opportunity, decision="pending")
    return links.decision_link(approval, user, action)


def _at_finance(rep, revops):
    opportunity = ready_opportunity(rep, **BIG)
    run(opportunity, "submit_for_approval", rep)
    run(opportunity, "approve", revops)
    return opportunity


def test_link_get_changes_nothing_post_decides_once(rep, revops, fiona, policy):
    opportunity = _at_finance(rep, revops)
    url = _link(opportunity, fiona)
    client = Client()
    client.force_login(fiona)
    page = client.get(url)
    assert page.status_code == 200 and b"Approve" in page.content
    assert stage_of(opportunity) == Stage.PENDING_APPROVAL
    done = client.post(url, {"comment": "ok"})
    assert done.status_code == 302
    assert stage_of(opportunity) == Stage.CLOSED_WON
    again = client.post(url)
    assert again.status_code == 410


def test_link_forged_expired_wrong_user(rep, revops, fiona, fred, policy, settings):
    opportunity = _at_finance(rep, revops)
    client = Client()
    client.force_login(fiona)
    assert client.get("/approvals/decide/forged-token/").status_code == 403
    assert client.get(_link(opportunity, fred)).status_code == 403  # sent to Fred
    url = _link(opportunity, fiona)
    settings.APPROVAL_LINK_MAX_AGE = 72 * 3600
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=73)):
        expired = client.get(url)
    assert expired.status_code == 410 and b"expired" in expired.content
    assert stage_of(opportunity) == Stage.PENDING_APPROVAL
    with pytest.raises(signing.BadSignature):
        signing.loads("x:y", salt=links.SALT)


def test_link_when_the_gate_now_fails(rep, revops, fiona, policy):
    opportunity = _at_finance(rep, revops)
    url = _link(opportunity, fiona)
    rep.is_active = False
    rep.save()
    client = Client()
    client.force_login(fiona)
    refused = client.post(url)
    assert refused.status_code == 422
    assert stage_of(opportunity) == Stage.PENDING_APPROVAL


# --- API ------------------------------------------------------------------------------


def test_api_mine_route_and_dry_run(rep, revops, fiona, policy):
    from rest_framework.test import APIClient

    opportunity = ready_opportunity(rep, **BIG)
    api = APIClient()
    api.force_authenticate(rep)
    options = api.get(f"/api/v1/opportunities/{opportunity.pk}/transitions/").json()
    submit = next(
        o
        for o in (options if isinstance(options, list) else options["results"])
        if o["name"] == "submit_for_approval"
    )
    assert [s["group"] for s in submit["approval_route"]] == ["RevOps", "Finance"]
    run(opportunity, "submit_for_approval", rep)
    api.force_authenticate(fiona)
    assert api.get("/api/v1/approvals/?mine=true").json()["results"] == []
    api.force_authenticate(revops)
    rows = api.get("/api/v1/approvals/?mine=true&decision=pending").json()["results"]
    assert [r["current_step"]["group"] for r in rows] == ["RevOps"]
    run(opportunity, "approve", revops)
    api.force_authenticate(fiona)
    rows = api.get("/api/v1/approvals/?mine=true").json()["results"]
    assert [r["current_step"]["group"] for r in rows] == ["Finance"]
    assert rows[0]["decisions"][0]["group"] == "RevOps"
    decided = api.post(
        f"/api/v1/opportunities/{opportunity.pk}/transitions/approve/", {}, format="json"
    )
    assert decided.status_code == 200, decided.content
    assert stage_of(opportunity) == Stage.CLOSED_WON
    api.force_authenticate(revops)
    assert api.get("/api/v1/approval-policies/").status_code == 200
    api.force_authenticate(rep)
    assert (
        api.post("/api/v1/approval-policies/", {"rules": []}, format="json").json()["code"]
        == "permission_denied"
    )


# --- admin inbox ----------------------------------------------------------------------


def test_admin_inbox_shows_each_approver_their_steps(rep, revops, fiona, policy):
    fiona.is_staff = True
    fiona.save()
    opportunity = ready_opportunity(rep, **BIG, name="Inbox deal")
    run(opportunity, "submit_for_approval", rep)
    approval = Approval.objects.get(opportunity=opportunity)
    finance = Client()
    finance.force_login(fiona)
    queue = "/admin/opportunities/closedwonapproval/"
    first = finance.get(queue)
    assert "Inbox deal" not in first.content.decode()
    # Finance's head of the queue counts what Finance may decide, as its list does.
    assert first.context["queue_summary"]["count"] == 0
    assert first.context["cl"].result_count == 0
    # Finance deciding RevOps' step: refused with the reason, nothing changes.
    refused = finance.post(f"{queue}{approval.pk}/approve/")
    assert refused.status_code == 403
    ops = Client()
    ops.force_login(revops)
    page = ops.get(queue + "?step=RevOps").content.decode()
    assert "Inbox deal" in page and "RevOps → Finance (amount ≥ 100,000)" in page
    ops.post(f"{queue}{approval.pk}/approve/", {"comment": "Numbers check out"})
    assert stage_of(opportunity) == Stage.PENDING_APPROVAL
    second = finance.get(queue)
    assert "Inbox deal" in second.content.decode()
    assert second.context["cl"].result_count == 1
    assert second.context["queue_summary"]["count"] == 1
    waiting_for = next(f for f in second.context["cl"].filter_specs if f.parameter_name == "step")
    assert waiting_for.lookup_choices == [("Finance", "Finance")]
    detail_page = finance.get(f"{queue}{approval.pk}/change/")
    assert detail_page.status_code == 200, detail_page
    detail = detail_page.content.decode()
    assert "Numbers check out" in detail and "Approve Closed-Won" in detail
    finance.post(f"{queue}{approval.pk}/approve/", {"next": "1"})
    assert stage_of(opportunity) == Stage.CLOSED_WON


def test_an_inbox_longer_than_a_page_lists_every_request_once(rep, revops, fiona, policy):
    """Past one page (50 rows) the queue picks a page's ids in a subquery before the joins:
    the waiting step's group must still be read from each row in that subquery, for an
    approver who is not RevOps (whose inbox is "my steps") and for ``?step=``."""
    fiona.is_staff = True
    fiona.save()
    for _ in range(3):  # small deals: only the RevOps step, not Finance's business
        run(ready_opportunity(rep), "submit_for_approval", rep)
    for _ in range(52):
        run(ready_opportunity(rep, **BIG), "submit_for_approval", rep)
    # The big deals' RevOps step is behind them: each waits for Finance.
    big = Approval.objects.filter(route__1__group="Finance")
    assert big.update(step_index=1) == 52
    queue = "/admin/opportunities/closedwonapproval/"
    finance = Client()
    finance.force_login(fiona)
    ops = Client()
    ops.force_login(revops)

    for client, url in ((finance, queue), (ops, queue + "?step=Finance")):
        first, second = client.get(url), client.get(url + ("&" if "?" in url else "?") + "p=2")
        assert first.context["cl"].result_count == 52
        ids = [a.pk for a in first.context["cl"].result_list]
        ids += [a.pk for a in second.context["cl"].result_list]
        assert len(ids) == 52 and set(ids) == set(big.values_list("pk", flat=True))


def test_a_waiting_for_filter_narrows_the_list_even_when_nothing_waits_for_that_group(
    rep, revops, fiona, policy
):
    opportunity = ready_opportunity(rep)
    run(opportunity, "submit_for_approval", rep)
    run(opportunity, "approve", revops)  # nothing waits any more
    ops = Client()
    ops.force_login(revops)
    queue = "/admin/opportunities/closedwonapproval/"

    everything = ops.get(queue + "?decision=all")
    finance = ops.get(queue + "?decision=all&step=Finance")

    assert len(everything.context["cl"].result_list) == 1
    assert list(finance.context["cl"].result_list) == []


def test_policy_admin_preview_lists_changed_routes(rep, revops, policy):
    opportunity = ready_opportunity(rep, **BIG, name="Preview deal")
    draft = services.policy_copy_to_draft(policy, actor=revops)
    draft.rules.all().delete()
    admin = Client()
    admin.force_login(revops)
    page = admin.get(f"/admin/approvals/approvalpolicy/{draft.pk}/change/").content.decode()
    assert "Preview deal" in page
    assert opportunity.pk
    published = admin.get(f"/admin/approvals/approvalpolicy/{policy.pk}/change/")
    assert published.status_code == 200  # read-only view of a published version


# --- the rep's deal page --------------------------------------------------------------


def test_rep_sees_the_route_before_submitting_and_the_decision_banner(rep, revops, policy):
    opportunity = ready_opportunity(rep, **BIG)
    client = Client()
    client.force_login(rep)
    html = client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert "Will need: RevOps → Finance (amount ≥ 100,000)" in html
    run(opportunity, "submit_for_approval", rep)
    revops.first_name, revops.last_name = "Rita", "Reyes"
    revops.save()
    run(opportunity, "reject", revops, reason="PO missing countersignature")
    html = client.get(f"/opportunities/{opportunity.pk}/").content.decode()
    assert "Rejected by Rita Reyes" in html and "PO missing countersignature" in html
    assert 'data-unread="1"' in html
    listing = client.get("/approvals/notifications/").content.decode()
    assert "PO missing countersignature" in listing
    client.post("/approvals/notifications/")
    assert "data-unread" not in client.get(f"/opportunities/{opportunity.pk}/").content.decode()


def test_create_user_group_and_seed_demo_users(db):
    from django.core.management import call_command

    call_command(
        "create_user", "gina", "--role", "rep", "--group", "Legal", "--password", "pw-123456789"
    )
    from django.contrib.auth import get_user_model

    gina = get_user_model().objects.get(username="gina")
    assert set(gina.groups.values_list("name", flat=True)) == {"Sales reps", "Legal"}
    assert gina.is_staff


def test_bulk_approve_decides_each_deal_at_its_step(rep, revops, fiona, policy):
    from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

    fiona.is_staff = True
    fiona.save()
    opportunities = [ready_opportunity(rep, **BIG, name=f"Bulk {n}") for n in range(2)]
    for opportunity in opportunities:
        run(opportunity, "submit_for_approval", rep)
    approvals = [Approval.objects.get(opportunity=d) for d in opportunities]
    queue = "/admin/opportunities/closedwonapproval/"

    def bulk(user):
        client = Client()
        client.force_login(user)
        data = {
            "action": "approve_selected",
            ACTION_CHECKBOX_NAME: [a.pk for a in approvals],
            "apply": "1",
        }
        return client.post(queue, data, follow=True).content.decode()

    assert "Approved 2: Bulk 0, Bulk 1." in bulk(revops)
    assert [stage_of(d) for d in opportunities] == [Stage.PENDING_APPROVAL] * 2
    again = bulk(revops)
    assert "Approved none." in again and "already approved a step" in again
    assert "Approved 2" in bulk(fiona)
    assert [stage_of(d) for d in opportunities] == [Stage.CLOSED_WON] * 2
