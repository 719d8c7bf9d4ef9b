"""The approval queue's summary (count, value per currency, owners) reads only the deals
waiting for approval: from this partial covering index alone on PostgreSQL, not a scan of
every deal. PostgreSQL only, built without blocking writes (``CONCURRENTLY``, so outside
a transaction): SQLite has no covering indexes (Django warns about ``include`` there),
and its databases are the small embedded ones. Not in the model's ``Meta`` for the same
reason; nothing reads the index by name."""

from django.db import migrations

INDEX = "opp_pending_summary_idx"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON opportunities_opportunity (id)"
        " INCLUDE (currency, owner_id, amount) WHERE stage = 'pending_approval'"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("opportunities", "0012_json_lz4"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
