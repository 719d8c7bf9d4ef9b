from django.db import migrations

from core.db import lz4_compression


class Migration(migrations.Migration):
    dependencies = [("handoffs", "0006_commission_credit_amendments")]

    operations = [lz4_compression("handoffs", "handoff", "payload")]
