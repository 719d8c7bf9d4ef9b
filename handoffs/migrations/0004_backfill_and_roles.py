"""Existing handoffs become deliveries to the environment endpoints, and RevOps may
manage webhook endpoints.

One WebhookEndpoint per handoff kind stands for the ``HANDOFF_<KIND>_URL`` / ``_SECRET``
variables (its URL and secret stay in the settings). Every existing handoff row is a
delivery of the ``handoff.<kind>`` event to its kind's endpoint; its event id is its own
id. Mirrors ``opportunities.roles.EXTRA_APP_PERMS["handoffs"]``.
"""

import uuid

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.models import F, Value
from django.db.models.functions import Concat

KINDS = ("billing", "provisioning", "customer_success", "commission")
REVOPS_PERMS = [
    "view_webhookendpoint",
    "add_webhookendpoint",
    "change_webhookendpoint",
    "delete_webhookendpoint",
    "rotate_webhookendpoint",
    "replay_webhookendpoint",
    "view_webhookdelivery",
    "view_outgoingmessage",
    "view_openhandoff",
]


def forward(apps, schema_editor):
    WebhookEndpoint = apps.get_model("handoffs", "WebhookEndpoint")
    Handoff = apps.get_model("handoffs", "Handoff")
    for kind in KINDS:
        endpoint, _ = WebhookEndpoint.objects.get_or_create(
            environment_kind=kind,
            defaults={
                "id": uuid.uuid4(),
                "description": f"HANDOFF_{kind.upper()}_URL (environment)",
                "event_types": [f"handoff.{kind}"],
            },
        )
        Handoff._base_manager.filter(kind=kind, endpoint__isnull=True).update(
            endpoint=endpoint
        )
    Handoff._base_manager.filter(event_type="").exclude(kind="").update(
        event_type=Concat(Value("handoff."), F("kind")), event_id=F("id")
    )

    app_config = apps.get_app_config("handoffs")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(
        content_type__app_label="handoffs", codename__in=REVOPS_PERMS
    )
    revops, _ = Group.objects.get_or_create(name="RevOps")
    revops.permissions.add(*perms)


class Migration(migrations.Migration):
    dependencies = [("handoffs", "0003_webhook_endpoints_and_outbox")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
