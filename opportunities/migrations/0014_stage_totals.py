"""Totals kept by the database: the stage totals and the waiting requests per group, their
triggers on the deals and approvals tables and the totals of the rows already there, in one
transaction (creating a trigger locks its table against writes until the backfill
commits, so none falls between)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def install(apps, schema_editor):
    from opportunities import stage_totals

    stage_totals.install(schema_editor.connection, replace=True, rebuild=True)


def uninstall(apps, schema_editor):
    from opportunities import stage_totals

    stage_totals.uninstall(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ('opportunities', '0013_opportunity_pending_summary_index'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='WaitingTotal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('step_group', models.CharField(max_length=150)),
                ('count', models.BigIntegerField()),
            ],
        ),
        migrations.CreateModel(
            name='StageTotal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('stage', models.CharField(choices=[('prospecting', 'Prospecting'), ('qualification', 'Qualification'), ('proposal', 'Proposal'), ('negotiation', 'Negotiation'), ('pending_approval', 'Closed-Won — pending approval'), ('closed_won', 'Closed Won'), ('closed_lost', 'Closed Lost'), ('cancelled', 'Cancelled')], max_length=32)),
                ('currency', models.CharField(max_length=3)),
                ('count', models.BigIntegerField()),
                ('amount', models.DecimalField(decimal_places=4, max_digits=30)),
                ('priced', models.BigIntegerField(help_text='Deals of the key that have an amount.')),
                ('owner', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.RunPython(install, uninstall, elidable=False),
    ]
