"""``seed_demo [--deals N]``: demo users, catalog, accounts and deals in every stage.

Idempotent: users are updated, catalog and accounts reused, and only the deals missing
to reach N are created. The first 200 deals go through the services (so they carry real
stage history, approvals, handoffs and commission credits); beyond that, deals are
bulk-inserted in open stages with their entry requirements met, in batches, with
progress — memory stays flat however large N is.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from decimal import Decimal

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from approvals.demo import demo_policy_ensure
from documents.demo import demo_requirement_ensure, demo_signed_contract_attach
from opportunities import services
from opportunities.management.commands.create_user import ensure_user
from opportunities.models import Account, Approval, Contact, LineItem, Opportunity, Product
from opportunities.stages import OPEN_STAGES, LossReason, Source, Stage

DEMO_PASSWORD = "closedwon-demo"
DEMO_USERS = [
    ("alice", "rep", "Alice", "Archer"),
    ("bob", "rep", "Bob", "Baker"),
    ("rita", "revops", "Rita", "Reyes"),
    ("admin", "admin", "Ada", "Admin"),
    ("fiona", "rep", "Fiona", "Finch", "Finance"),
    ("dana", "rep", "Dana", "Diaz", "Deal desk"),
]
PRODUCTS = [
    ("CW-CORE", "closedwon Core seat", Decimal("1200.00")),
    ("CW-PRO", "closedwon Pro seat", Decimal("2400.00")),
    ("CW-API", "API add-on", Decimal("600.00")),
    ("CW-SSO", "SSO add-on", Decimal("300.00")),
    ("CW-SUPPORT", "Premium support", Decimal("900.00")),
]
COMPANIES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark Industries",
    "Wayne Enterprises",
    "Wonka",
    "Cyberdyne",
    "Soylent",
    "Tyrell",
    "Aperture",
    "Vandelay",
    "Pied Piper",
    "Dunder Mifflin",
    "Oscorp",
    "Massive Dynamic",
    "Gringotts",
    "Monarch",
    "Nakatomi",
    "Prestige Worldwide",
    "Bluth",
    "Sterling Cooper",
    "Los Pollos",
    "Virtucon",
    "Duff",
    "Gekko & Co",
    "Buy n Large",
    "Ollivanders",
    "Spacely Sprockets",
]
COUNTRIES = ["US", "GB", "DE", "FR", "NL", "CA", "AU", "SE", "ES", "IE"]
OPPORTUNITY_KINDS = [
    "Platform",
    "Expansion",
    "Renewal",
    "Pilot",
    "Rollout",
    "Enterprise",
    "Team plan",
]
SERVICE_OPPORTUNITIES = 200
# Share of service-made deals per final stage (sums to 1).
STAGE_MIX = [
    (Stage.PROSPECTING, 0.18),
    (Stage.QUALIFICATION, 0.16),
    (Stage.PROPOSAL, 0.16),
    (Stage.NEGOTIATION, 0.15),
    (Stage.PENDING_APPROVAL, 0.10),
    (Stage.CLOSED_WON, 0.15),
    (Stage.CLOSED_LOST, 0.10),
]


class Command(BaseCommand):
    help = "Seed demo users, products, accounts and deals (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--deals",
            type=int,
            default=SERVICE_OPPORTUNITIES,
            help="Total demo deals wanted (default 200).",
        )
        parser.add_argument(
            "--batch", type=int, default=2000, help="Bulk insert batch size beyond the first 200."
        )
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--quiet-logins", action="store_true", help="Do not print the demo logins."
        )

    def handle(self, *args, **options) -> None:
        rng = random.Random(options["seed"])
        users = self._users()
        products = self._products()
        accounts = self._accounts(rng, users)
        demo_requirement_ensure(actor=users["rita"])
        demo_policy_ensure(actor=users["rita"])
        wanted = max(0, options["deals"])
        existing = Opportunity.objects.filter(owner__in=[users["alice"], users["bob"]]).count()
        missing = max(0, wanted - existing)
        service_count = max(0, min(SERVICE_OPPORTUNITIES, wanted) - existing)
        if missing:
            self.stdout.write(f"Seeding {missing} deals ({existing} already there)…")
        self._service_opportunities(rng, service_count, existing, users, products, accounts)
        bulk = missing - service_count
        if bulk > 0:
            self._bulk_opportunities(
                rng, bulk, existing + service_count, users, products, accounts, options["batch"]
            )
        # By name: the sales app does not import the amendments app; the demo's ledger
        # shows bookings net of an applied amendment and a cancellation.
        call_command("seed_demo_amendments", stdout=self.stdout, stderr=self.stderr)
        if missing:
            self._analyze()
        if not options["quiet_logins"]:
            self._print_logins()

    def _analyze(self) -> None:
        """Fresh planner statistics after a bulk load: without them PostgreSQL plans deep
        list pages from the empty-table estimates (1.6-2x slower until autovacuum runs).
        On PostgreSQL outside a transaction also VACUUM: it marks the loaded pages
        all-visible, so the partial index of the approval queue's summary answers without
        visiting every row (what autovacuum would do some minutes later)."""
        tables = [m._meta.db_table for m in (Opportunity, LineItem, Account, Contact, Approval)]
        vacuum = connection.vendor == "postgresql" and not connection.in_atomic_block
        command = "VACUUM (ANALYZE)" if vacuum else "ANALYZE"
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"{command} {connection.ops.quote_name(table)}")
        self.stdout.write(
            f"{'Vacuumed and analyzed' if vacuum else 'Analyzed'} {', '.join(tables)}."
        )

    # --- reference data --------------------------------------------------------------------
    def _users(self) -> dict:
        users = {}
        for username, role, first, last, *approver_groups in DEMO_USERS:
            user, _ = ensure_user(
                username,
                role,
                DEMO_PASSWORD,
                f"{username}@demo.closedwon.local",
                groups=approver_groups,
                first_name=first,
                last_name=last,
            )
            users[username] = user
        return users

    def _products(self) -> list[tuple[Product, Decimal]]:
        out = []
        for sku, name, price in PRODUCTS:
            product, _ = Product.objects.get_or_create(sku=sku, defaults={"name": name})
            if product.list_price is None:
                product.list_price = price
                product.save(update_fields=["list_price"])
            out.append((product, price))
        return out

    def _accounts(self, rng: random.Random, users: dict) -> list[tuple[Account, list[Contact]]]:
        out = []
        for index, company in enumerate(COMPANIES):
            owner = users["alice"] if index % 2 == 0 else users["bob"]
            slug = company.lower().replace(" ", "").replace("&", "and")
            account, created = Account.objects.get_or_create(
                external_id=f"demo-{index + 1:04d}",
                defaults={
                    "name": company,
                    "domain": f"{slug}.example",
                    "billing_country": COUNTRIES[index % len(COUNTRIES)],
                    "owner": owner,
                },
            )
            contacts = list(account.contacts.order_by("id"))
            if not contacts:
                contacts = [
                    Contact.objects.create(
                        account=account,
                        first_name=first,
                        last_name=last,
                        email=f"{first.lower()}.{last.lower()}@{slug}.example" if n < 2 else "",
                        title=title,
                    )
                    for n, (first, last, title) in enumerate(
                        [
                            ("Jordan", "Lee", "VP Finance"),
                            ("Sam", "Patel", "Head of IT"),
                            ("Chris", "Novak", "Buyer"),
                        ]
                    )
                ]
            out.append((account, contacts))
        return out

    # --- deals ---------------------------------------------------------------------------------
    def _opportunity_data(
        self, rng: random.Random, n: int, stage: str, users: dict, products, accounts
    ) -> tuple[dict, list]:
        account, contacts = accounts[n % len(accounts)]
        owner = users["alice"] if n % 2 == 0 else users["bob"]
        today = timezone.localdate()
        items = []
        for product, price in rng.sample(products, rng.randint(1, 2)):
            items.append(
                {
                    "product": product.pk,
                    "seats": rng.choice([5, 10, 20, 25, 50, 100]),
                    "unit_price": price,
                }
            )
        amount = sum((Decimal(i["seats"]) * i["unit_price"] for i in items), Decimal(0))
        closing = stage in (Stage.PENDING_APPROVAL, Stage.CLOSED_WON)
        if closing:
            close_date = today - dt.timedelta(
                days=rng.randint(0, 170) if stage == Stage.CLOSED_WON else rng.randint(0, 5)
            )
        else:
            close_date = today + dt.timedelta(days=rng.randint(5, 150))
        data = {
            "name": f"{account.name} — {rng.choice(OPPORTUNITY_KINDS)} {n + 1}",
            "account": account.pk,
            "owner": owner.pk,
            "type": rng.choice(["new_business", "new_business", "renewal", "upsell"]),
            "amount": amount,
            "close_date": close_date,
            "primary_contact": contacts[0].pk,
        }
        if closing or rng.random() < 0.3:
            data["contract_id"] = f"C-{today.year}-{n + 1:06d}"
            data["contract_start_date"] = close_date + dt.timedelta(days=14)
            data["term_months"] = rng.choice([12, 24, 36])
        if closing and rng.random() < 0.4:
            data["po_number"] = f"PO-{n + 1:06d}"
        if stage == Stage.PROSPECTING and rng.random() < 0.5:
            # Early deals often lack the numbers yet: the checklist has work to show.
            data.pop("amount")
            data.pop("primary_contact")
            items = []
        return data, items

    def _service_opportunities(self, rng, count, start, users, products, accounts) -> None:
        if count <= 0:
            return
        # Interleave the stages so any prefix of the plan (small --deals) has them all.
        slots: list[tuple[float, str]] = []
        for stage, share in STAGE_MIX:
            per_stage = round(share * SERVICE_OPPORTUNITIES)
            slots += [((i + 0.5) / per_stage, stage) for i in range(per_stage)]
        plan = [stage for _, stage in sorted(slots, key=lambda slot: slot[0])]
        rita = users["rita"]
        started = time.monotonic()
        for offset in range(count):
            n = start + offset
            stage = plan[n % len(plan)]
            data, items = self._opportunity_data(rng, n, stage, users, products, accounts)
            owner = users["alice"] if n % 2 == 0 else users["bob"]
            with transaction.atomic():
                opp = services.opportunity_create(
                    actor=owner, data=data, line_items=items, source=Source.SYSTEM
                )
                path: list[tuple[str, object, dict]] = []
                if stage in OPEN_STAGES and stage != Stage.PROSPECTING:
                    path.append((f"move_to_{stage}", owner, {}))
                elif stage == Stage.PENDING_APPROVAL:
                    path.append(("submit_for_approval", owner, {}))
                elif stage == Stage.CLOSED_WON:
                    path += [("submit_for_approval", owner, {}), ("approve", rita, {})]
                elif stage == Stage.CLOSED_LOST:
                    reason = rng.choice(LossReason.values)
                    path.append(
                        (
                            "mark_lost",
                            owner,
                            {
                                "loss_reason": reason,
                                "loss_detail": "Went with an in-house tool"
                                if reason == "other"
                                else "",
                            },
                        )
                    )
                if stage in (Stage.PENDING_APPROVAL, Stage.CLOSED_WON):
                    demo_signed_contract_attach(opportunity=opp)
                for name, actor, params in path:
                    services.opportunity_transition(
                        opportunity=opp, name=name, actor=actor, source=Source.SYSTEM, **params
                    )
            self._progress(offset + 1, count, started)

    def _bulk_opportunities(self, rng, count, start, users, products, accounts, batch) -> None:
        started = time.monotonic()
        self._printed_step, self._printed_at = -1, 0.0
        done = 0
        stages = list(OPEN_STAGES)
        while done < count:
            size = min(batch, count - done)
            rows, pending_items = [], []
            for offset in range(size):
                n = start + done + offset
                stage = stages[n % len(stages)]
                data, items = self._opportunity_data(
                    rng, n, Stage.NEGOTIATION, users, products, accounts
                )
                # Bulk rows are inserted directly in a stage whose entry requirements they
                # meet (a data load, like a CSV import of history); they have no StageChange.
                rows.append(
                    Opportunity(
                        stage=stage,
                        name=data["name"],
                        account_id=data["account"],
                        owner_id=data["owner"],
                        type=data["type"],
                        amount=data["amount"],
                        close_date=data["close_date"],
                        primary_contact_id=data["primary_contact"],
                        contract_id=data.get("contract_id", ""),
                    )
                )
                pending_items.append(items)
            for row in rows:
                row.set_keys()  # bulk_create skips save(), which computes them
            with transaction.atomic():
                created = Opportunity.objects.bulk_create(rows)
                if any(o.pk is None for o in created):  # SQLite < 3.35 does not return ids
                    raise SystemExit("bulk_create did not return ids")
                LineItem.objects.bulk_create(
                    [
                        LineItem(
                            opportunity_id=o.pk,
                            product_id=i["product"],
                            seats=i["seats"],
                            unit_price=i["unit_price"],
                        )
                        for o, items in zip(created, pending_items, strict=True)
                        for i in items
                    ]
                )
            done += size
            self._progress(done, count, started)

    def _progress(self, done: int, total: int, started: float) -> None:
        # Every 5 % or every 2 s, whichever comes first: a batch rarely ends exactly on a
        # multiple of total // 20, so a modulo alone would print nothing in the bulk phase.
        if total < 50:
            return
        now = time.monotonic()
        step = max(1, total // 20)
        crossed = done // step > getattr(self, "_printed_step", -1)
        if not (crossed or now - getattr(self, "_printed_at", 0.0) >= 2.0 or done == total):
            return
        self._printed_step, self._printed_at = done // step, now
        rate = done / max(time.monotonic() - started, 1e-6)
        bar = "#" * int(30 * done / total)
        self.stderr.write(f"\r  [{bar:<30}] {done}/{total} deals ({rate:,.0f}/s)", ending="")
        if done == total:
            self.stderr.write("")
        self.stderr.flush()

    def _print_logins(self) -> None:
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD})")
        for username, role, _first, _last, *_groups in DEMO_USERS:
            where = "/admin/" if role in ("revops", "admin") else "/pipeline/"
            self.stdout.write(f"  {role:<7} {username:<6} / {DEMO_PASSWORD}   → {where}")
