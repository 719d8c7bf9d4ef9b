import django.core.serializers.json
from django.db import migrations

import core.fields
from core.db import lz4_compression


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0002_data_lz4"),
    ]

    operations = [
        # Reversed last: the type change back rewrites the column with the default.
        lz4_compression("events", "event", "data", reverse="lz4"),
        migrations.AlterField(
            model_name="event",
            name="data",
            field=core.fields.JSONDocumentField(
                encoder=django.core.serializers.json.DjangoJSONEncoder
            ),
        ),
        # Changing the type rewrites the column with the server's default compression.
        lz4_compression("events", "event", "data", reverse="lz4"),
    ]
