import django.core.serializers.json
from django.db import migrations

import core.fields
from core.db import lz4_kept


class Migration(migrations.Migration):
    dependencies = [
        ("handoffs", "0007_payload_lz4"),
    ]

    operations = lz4_kept(
        "handoffs",
        "handoff",
        ["payload"],
        migrations.AlterField(
            model_name="handoff",
            name="payload",
            field=core.fields.JSONDocumentField(
                encoder=django.core.serializers.json.DjangoJSONEncoder
            ),
        ),
    )
