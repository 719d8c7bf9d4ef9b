"""Grant the amendment permissions to the two roles.

Everyone reads and requests amendments; RevOps also read the decisions and the
bookings ledger. Mirrors ``opportunities.policies.EXTRA_APP_PERMS["amendments"]``.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

REP_PERMS = ["view_amendment", "add_amendment"]
REVOPS_EXTRA = ["view_amendmentdecision", "view_booking"]


def grant(apps, schema_editor):
    app_config = apps.get_app_config("amendments")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    by_code = {
        p.codename: p for p in Permission.objects.filter(content_type__app_label="amendments")
    }
    reps, _ = Group.objects.get_or_create(name="Sales reps")
    revops, _ = Group.objects.get_or_create(name="RevOps")
    reps.permissions.add(*[by_code[c] for c in REP_PERMS])
    revops.permissions.add(*[by_code[c] for c in REP_PERMS + REVOPS_EXTRA])


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    perms = Permission.objects.filter(content_type__app_label="amendments")
    for group in Group.objects.filter(name__in=["Sales reps", "RevOps"]):
        group.permissions.remove(*perms)


class Migration(migrations.Migration):
    dependencies = [
        ("amendments", "0002_backfill_bookings"),
        ("opportunities", "0002_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
