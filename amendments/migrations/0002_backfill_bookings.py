"""Backfill the bookings ledger: one ``won`` booking per deal approved before the ledger
existed, booked on its close date, in the reporting currency at the rate frozen on its
approval (the reporting values stay empty when none was frozen)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import migrations


def backfill(apps: Any, schema_editor: Any) -> None:
    Approval = apps.get_model("opportunities", "Approval")
    Booking = apps.get_model("amendments", "Booking")
    rows = []
    approvals = (
        Approval.objects.filter(decision="approved", booking__isnull=True)
        .select_related("opportunity")
        .order_by("id")
    )
    for approval in approvals.iterator():
        opp = approval.opportunity
        at = approval.decided_at or opp.closed_at or approval.submitted_at
        rows.append(
            Booking(
                opportunity=opp,
                kind="won",
                approval=approval,
                currency=opp.currency,
                amount_delta=opp.amount or Decimal(0),
                reporting_currency=approval.reporting_currency
                if approval.reporting_amount is not None
                else "",
                reporting_delta=approval.reporting_amount,
                reporting_rate=approval.reporting_rate,
                booked_on=opp.close_date or at.date(),
                at=at,
            )
        )
    Booking.objects.bulk_create(rows, batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("amendments", "0001_initial")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
