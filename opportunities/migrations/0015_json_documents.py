from django.db import migrations

import core.fields
from core.db import lz4_kept


class Migration(migrations.Migration):
    dependencies = [
        ("opportunities", "0014_stage_totals"),
    ]

    operations = [
        *lz4_kept(
            "opportunities",
            "approval",
            ["snapshot"],
            migrations.AlterField(
                model_name="approval",
                name="snapshot",
                field=core.fields.JSONDocumentField(blank=True, default=dict),
            ),
        ),
        *lz4_kept(
            "opportunities",
            "stagechange",
            ["gate_snapshot"],
            migrations.AlterField(
                model_name="stagechange",
                name="gate_snapshot",
                field=core.fields.JSONDocumentField(blank=True, default=dict),
            ),
        ),
    ]
