"""The demo approval policy: amount ≥ 100,000 → Finance; a line discount ≥ 20 % → Deal desk."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group

from . import services
from .models import ApprovalPolicy

DEMO_POLICY = {
    "name": "Demo approval policy",
    "rules": [
        {
            "name": "Large deals need Finance",
            "conditions": {"amount_gte": "100000"},
            "steps": [{"group": "Finance", "mode": "any", "count": 1, "sla_hours": 8}],
        },
        {
            "name": "Deep discounts need the Deal desk",
            "conditions": {"max_discount_pct_gte": "20"},
            "steps": [{"group": "Deal desk", "mode": "any", "count": 1, "sla_hours": 4}],
        },
    ],
}


def demo_policy_ensure(*, actor: Any = None) -> ApprovalPolicy:
    """Publish the demo policy once (idempotent: an existing published policy is kept)."""
    for name in ("Finance", "Deal desk"):
        Group.objects.get_or_create(name=name)
    existing = services.current_policy()
    return existing or services.policy_save(DEMO_POLICY, actor=actor)
