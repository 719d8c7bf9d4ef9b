"""Demo data for ``seed_demo``: the evidence requirement and a generated signed PDF."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from django.utils import timezone

from opportunities.models import Opportunity

from .models import Document, DocumentKind, DocumentSource, EnvelopeStatus, EvidenceRequirement
from .samples import sample_signed_contract
from .services import document_attach

DEMO_MIN_AMOUNT = Decimal("50000.00")


def demo_requirement_ensure(*, actor: Any) -> EvidenceRequirement:
    """RevOps require a signed contract for deals of 50,000 or more (idempotent)."""
    row, _ = EvidenceRequirement.objects.get_or_create(
        kind=DocumentKind.SIGNED_CONTRACT,
        min_amount=DEMO_MIN_AMOUNT,
        defaults={"created_by": actor},
    )
    return row


def demo_signed_contract_attach(*, opportunity: Opportunity) -> Document:
    """Attach a generated signed contract as if the e-signature service had sent it."""
    signer = opportunity.primary_contact or opportunity.owner
    pdf = sample_signed_contract(
        opportunity=opportunity.name,
        account=opportunity.account.name if opportunity.account else "",
        signer=str(signer),
        date=timezone.localdate().isoformat(),
    )
    return document_attach(
        opportunity=opportunity,
        actor=None,
        kind=DocumentKind.SIGNED_CONTRACT,
        file=io.BytesIO(pdf),
        name=f"{opportunity.name} - signed contract.pdf",
        size=len(pdf),
        source=DocumentSource.ESIGN,
        envelope_id=f"demo-{opportunity.pk}",
        envelope_status=EnvelopeStatus.COMPLETED,
    )
