import django.core.serializers.json
from django.db import migrations

import core.fields
from core.db import lz4_kept


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0002_data_lz4"),
    ]

    operations = lz4_kept(
        "events",
        "event",
        ["data"],
        migrations.AlterField(
            model_name="event",
            name="data",
            field=core.fields.JSONDocumentField(
                encoder=django.core.serializers.json.DjangoJSONEncoder
            ),
        ),
    )
