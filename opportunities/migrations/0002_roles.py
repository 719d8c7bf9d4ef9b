"""Create the two roles as groups with their permissions.

Sales reps: read everything, create and change deals (their own — enforced by the
services), accounts, contacts and line items. RevOps: everything in the sales domain, plus
approve/reject Closed-Won and change any rep's deals. Permissions of apps added later
(handoffs) are granted by their own migrations.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

REP_PERMS = [
    "view_account", "add_account", "change_account",
    "view_contact", "add_contact", "change_contact",
    "view_product",
    "view_opportunity", "add_opportunity", "change_opportunity",
    "view_lineitem", "add_lineitem", "change_lineitem", "delete_lineitem",
    "view_stagechange", "view_approval", "view_stagerequirement",
]
REVOPS_EXTRA = [
    "add_product", "change_product",
    "approve_opportunity", "change_any_opportunity",
    "add_stagerequirement", "change_stagerequirement", "delete_stagerequirement",
    "view_historicalopportunity", "view_historicallineitem",
]


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label="opportunities")
    by_code = {p.codename: p for p in perms}
    reps, _ = Group.objects.get_or_create(name="Sales reps")
    revops, _ = Group.objects.get_or_create(name="RevOps")
    reps.permissions.add(*[by_code[c] for c in REP_PERMS])
    revops.permissions.add(*[by_code[c] for c in REP_PERMS + REVOPS_EXTRA])


def drop_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Sales reps", "RevOps"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("opportunities", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, drop_roles)]
