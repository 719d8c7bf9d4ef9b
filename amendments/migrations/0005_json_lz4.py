from django.db import migrations

from core.db import lz4_compression


class Migration(migrations.Migration):
    dependencies = [("amendments", "0004_amendment_route_steps")]

    operations = [
        lz4_compression("amendments", "amendment", "before", "after", "delta", "line_items"),
        lz4_compression("amendments", "amendmentdecision", "gate_snapshot"),
    ]
