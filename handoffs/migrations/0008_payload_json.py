import django.core.serializers.json
from django.db import migrations

import core.fields
from core.db import lz4_compression


class Migration(migrations.Migration):
    dependencies = [
        ("handoffs", "0007_payload_lz4"),
    ]

    operations = [
        # Reversed last: the type change back rewrites the column with the default.
        lz4_compression("handoffs", "handoff", "payload", reverse="lz4"),
        migrations.AlterField(
            model_name="handoff",
            name="payload",
            field=core.fields.JSONDocumentField(
                encoder=django.core.serializers.json.DjangoJSONEncoder
            ),
        ),
        # Changing the type rewrites the column with the server's default compression.
        lz4_compression("handoffs", "handoff", "payload", reverse="lz4"),
    ]
