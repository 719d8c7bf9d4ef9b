"""factory_boy factories. Deals are created straight in a stage only to set up a test's
"given"; the code under test always moves them through the services."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from opportunities.management.commands.create_user import ensure_user
from opportunities.models import Account, Contact, LineItem, Opportunity, Product, StageRequirement


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")


_user_seq = itertools.count(1)


def make_user(role: str = "rep", username: str | None = None, password: str = "pw-for-tests-123"):
    username = username or f"{role}{next(_user_seq)}"
    user, _ = ensure_user(username, role, password, f"{username}@example.com")
    return user


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Account {n}")
    domain = factory.Sequence(lambda n: f"account{n}.example")
    billing_country = "US"


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    account = factory.SubFactory(AccountFactory)
    first_name = "Pat"
    last_name = factory.Sequence(lambda n: f"Buyer{n}")
    email = factory.LazyAttribute(lambda c: f"{c.last_name.lower()}@example.com")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    name = factory.Sequence(lambda n: f"Product {n}")


class OpportunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Opportunity

    name = factory.Sequence(lambda n: f"Deal {n}")
    owner = factory.LazyFunction(lambda: make_user("rep"))
    account = factory.SubFactory(AccountFactory)
    currency = "USD"


class LineItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LineItem

    opportunity = factory.SubFactory(OpportunityFactory)
    product = factory.SubFactory(ProductFactory)
    seats = 10
    unit_price = Decimal("100.00")


_contract_seq = iter(range(1, 10**9))


def ready_opportunity(
    owner=None,
    *,
    stage: str = "negotiation",
    seats: int = 10,
    unit_price: Decimal | None = Decimal("100.00"),
    lines: int = 1,
    **overrides,
) -> Opportunity:
    """A deal that passes the whole Closed-Won gate, sitting in ``stage``."""
    owner = owner or make_user("rep")
    account = overrides.pop("account", None) or AccountFactory(owner=owner)
    contact = overrides.pop("primary_contact", None) or ContactFactory(account=account)
    amount = overrides.pop("amount", None)
    if amount is None:
        amount = (
            (Decimal(seats) * unit_price * lines)
            if unit_price is not None and lines
            else Decimal("1000.00")
        )
    fields = {
        "name": f"Ready deal {next(_contract_seq)}",
        "owner": owner,
        "account": account,
        "primary_contact": contact,
        "amount": amount,
        "close_date": timezone.localdate() - dt.timedelta(days=1),
        "contract_id": f"CT-{next(_contract_seq):06d}",
        "currency": "USD",
        "contract_start_date": timezone.localdate(),
        "term_months": 12,
    }
    fields.update(overrides)
    opp = Opportunity.objects.create(stage=stage, **fields)
    for _ in range(lines):
        LineItemFactory(opportunity=opp, seats=seats, unit_price=unit_price)
    return opp


__all__ = [
    "AccountFactory",
    "ContactFactory",
    "LineItemFactory",
    "OpportunityFactory",
    "ProductFactory",
    "StageRequirement",
    "UserFactory",
    "make_user",
    "ready_opportunity",
]


def policy_author():
    """Someone who may change the approval policy and is no approver: a rep granted
    ``approvals.change_approvalpolicy`` (so publishing a policy in a test tells nobody)."""
    from django.contrib.auth.models import Permission

    user = make_user("rep", "policy_author")
    user.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="approvals", codename="change_approvalpolicy"
        )
    )
    return type(user).objects.get(pk=user.pk)  # a fresh permission cache


def publish_big_deal_and_discount_policy():
    """Publish the tests' two-rule policy: amount ≥ 100,000 → Finance; a line discount
    ≥ 20 % → Deal desk (one member each, any of them), by :func:`policy_author`."""
    from django.contrib.auth.models import Group

    from approvals import services

    for name in ("Finance", "Deal desk"):
        Group.objects.get_or_create(name=name)
    return services.policy_save(
        {
            "name": "Demo",
            "rules": [
                {
                    "name": "Big deals",
                    "conditions": {"amount_gte": "100000"},
                    "steps": [{"group": "Finance"}],
                },
                {
                    "name": "Deep discounts",
                    "conditions": {"max_discount_pct_gte": "20"},
                    "steps": [{"group": "Deal desk"}],
                },
            ],
        },
        actor=policy_author(),
    )
