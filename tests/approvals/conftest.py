from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from approvals import services
from tests.factories import make_user, policy_author


@pytest.fixture
def finance_group(db):
    return Group.objects.get_or_create(name="Finance")[0]


@pytest.fixture
def fiona(finance_group):
    user = make_user("rep", "fiona")
    user.groups.add(finance_group)
    return user


@pytest.fixture
def fred(finance_group):
    user = make_user("rep", "fred")
    user.groups.add(finance_group)
    return user


@pytest.fixture
def policy(finance_group):
    return services.policy_save(
        {
            "name": "Demo",
            "rules": [
                {
                    "name": "Big deals",
                    "conditions": {"amount_gte": "100000"},
                    "steps": [{"group": "Finance", "mode": "any", "count": 1, "sla_hours": 8}],
                }
            ],
        },
        actor=policy_author(),
    )


BIG = {"seats": 100, "unit_price": Decimal("1500.00")}
