from django.db import migrations

import core.fields
from core.db import lz4_compression


class Migration(migrations.Migration):
    dependencies = [
        ("opportunities", "0014_stage_totals"),
    ]

    operations = [
        # Reversed last: the type change back rewrites the columns with the default.
        lz4_compression("opportunities", "stagechange", "gate_snapshot", reverse="lz4"),
        lz4_compression("opportunities", "approval", "snapshot", reverse="lz4"),
        migrations.AlterField(
            model_name="approval",
            name="snapshot",
            field=core.fields.JSONDocumentField(blank=True, default=dict),
        ),
        migrations.AlterField(
            model_name="stagechange",
            name="gate_snapshot",
            field=core.fields.JSONDocumentField(blank=True, default=dict),
        ),
        # Changing the type rewrites the columns with the server's default compression.
        lz4_compression("opportunities", "stagechange", "gate_snapshot", reverse="lz4"),
        lz4_compression("opportunities", "approval", "snapshot", reverse="lz4"),
    ]
