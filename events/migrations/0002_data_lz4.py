from django.db import migrations

from core.db import lz4_compression


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial")]

    operations = [lz4_compression("events", "event", "data")]
