from django.db import migrations

from core.db import lz4_compression


class Migration(migrations.Migration):
    dependencies = [("opportunities", "0011_approval_step_due_at")]

    operations = [
        lz4_compression("opportunities", "stagechange", "gate_snapshot"),
        lz4_compression("opportunities", "approval", "snapshot"),
    ]
