"""Line items: the one parser of line-item input, and replacing a deal's line items."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Model

from core import errors
from core.money import currency_codes, has_valid_minor_units, minor_units_message

from ..models import LineItem, Opportunity, Product


def parse_seats(value: Any) -> int | None:
    """A seat count from a number or its text; None when it is not a whole number."""
    if isinstance(value, bool) or value in (None, ""):
        return None
    try:
        number = Decimal(str(value).strip())
        if not number.is_finite() or number != number.to_integral_value():
            return None
        return int(number)
    except (InvalidOperation, ValueError):
        return None


def parse_unit_price(value: Any) -> Decimal | None:
    """A unit price from a number or its text; None when it is not a non-negative amount
    with at most 4 decimals below 10^14 (the currency's own minor units are checked by
    :func:`refuse_extra_minor_units`)."""
    if isinstance(value, bool) or value in (None, ""):
        return None
    try:
        price = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not price.is_finite() or price < 0 or price >= Decimal("1e14"):
        return None
    if price.as_tuple().exponent < -4:  # type: ignore[operator]
        return None
    return price


def lenient_line_items(
    rows: Iterable[Mapping[str, Any]],
) -> list[tuple[int | None, Decimal | None]]:
    """(seats, unit price) of half-typed rows for the live checklist: a value that does
    not parse counts as missing instead of failing (the real validation happens on save,
    with :func:`parse_line_items`)."""
    return [
        (parse_seats(row.get("seats")), parse_unit_price(row.get("unit_price"))) for row in rows
    ]


def parse_line_items(
    raw: Iterable[Mapping[str, Any]], *, products: Mapping[int, tuple[str, bool]] | None = None
) -> list[dict[str, Any]]:
    """Validate line-item input (``{"id", "product", "seats", "unit_price"}`` mappings; the
    product as an instance or an id, numbers as numbers or strings) into
    ``{"id", "product_id", "seats", "unit_price"}`` dicts.

    Raises ``InvalidInput`` listing every bad value at once, each on its field
    (``line_items[2].seats``): ``required``, ``invalid``, ``min_value``, ``does_not_exist``.
    ``products`` (id → (sku, active)), when a batch has read them already, saves the query.
    """
    parsed: list[dict[str, Any]] = []
    errs: list[errors.FieldError] = []
    product_ids: set[int] = set()
    for index, row in enumerate(raw):
        prefix = f"line_items[{index}]"
        product = row.get("product")
        product_id = product.pk if isinstance(product, Model) else product
        try:
            product_id = int(product_id)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            errs.append(errors.FieldError("required", f"{prefix}.product", "Choose a product."))
            continue
        seats = parse_seats(row.get("seats"))
        if seats is None:
            errs.append(
                errors.FieldError("invalid", f"{prefix}.seats", "Seats must be a whole number.")
            )
            continue
        if seats < 1:
            errs.append(
                errors.FieldError("min_value", f"{prefix}.seats", "Seats must be at least 1.")
            )
            continue
        raw_price = row.get("unit_price")
        price = parse_unit_price(raw_price)
        if price is None and raw_price not in ("", None):
            errs.append(
                errors.FieldError(
                    "invalid",
                    f"{prefix}.unit_price",
                    "Unit price must be a non-negative amount.",
                )
            )
            continue
        product_ids.add(product_id)
        parsed.append(
            {"id": row.get("id"), "product_id": product_id, "seats": seats, "unit_price": price}
        )
    if product_ids:
        known = (
            products
            if products is not None
            else {
                pk: (sku, active)
                for pk, sku, active in Product.objects.filter(pk__in=product_ids).values_list(
                    "pk", "sku", "active"
                )
            }
        )
        for index, item in enumerate(parsed):
            if item["product_id"] not in known:
                errs.append(
                    errors.FieldError(
                        "does_not_exist", f"line_items[{index}].product", "Unknown product."
                    )
                )
            else:
                item["sku"], item["product_active"] = known[item["product_id"]]
    if errs:
        raise errors.InvalidInput(errors=errs)
    return parsed


def refuse_extra_minor_units(parsed: list[dict[str, Any]], currency: str) -> None:
    """Each unit price has at most ``currency``'s minor units (ISO 4217: JPY 0, USD 2,
    KWD 3); raises ``InvalidInput`` naming each line otherwise."""
    if currency not in currency_codes():
        return  # the currency field's own validator reports it
    wrong = [
        errors.FieldError(
            "invalid", f"line_items[{index}].unit_price", minor_units_message(currency)
        )
        for index, item in enumerate(parsed)
        if item["unit_price"] is not None
        and not has_valid_minor_units(item["unit_price"], currency)
    ]
    if wrong:
        raise errors.InvalidInput(errors=wrong)


def refuse_inactive_products(parsed: list[dict[str, Any]], *, keep: set[int]) -> None:
    """A line item may not add a retired (inactive) product; the products already on the
    opportunity (``keep``) stay. Raises ``ProductInactive`` (422) naming each line."""
    retired = [
        errors.FieldError(
            "product_inactive",
            f"line_items[{index}].product",
            f"{item['sku']} is retired: choose an active product.",
        )
        for index, item in enumerate(parsed)
        if not item.get("product_active", True) and item["product_id"] not in keep
    ]
    if retired:
        raise errors.ProductInactive("A retired product cannot be added to a deal.", errors=retired)


def check_line_item_ids(opportunity: Opportunity | None, parsed: list[dict[str, Any]]) -> None:
    """An ``id`` must name a line item of this very opportunity: an unknown id, or another
    opportunity's, is ``invalid`` on ``line_items[N].id`` rather than a silently created
    row."""
    given = [(index, item["id"]) for index, item in enumerate(parsed) if item["id"] is not None]
    if not given:
        return
    own = (
        set(opportunity.line_items.values_list("pk", flat=True))
        if opportunity is not None
        else set()
    )
    errs = [
        errors.FieldError(
            "invalid",
            f"line_items[{index}].id",
            "Not a line item of this deal; leave id out for a new one.",
        )
        for index, pk in given
        if pk not in own
    ]
    if errs:
        raise errors.InvalidInput(errors=errs)


def _line_items_differ(opportunity: Opportunity, parsed: list[dict[str, Any]]) -> bool:
    current = sorted(
        (p, s, u)
        for p, s, u in opportunity.line_items.values_list("product_id", "seats", "unit_price")
    )
    wanted = sorted((i["product_id"], i["seats"], i["unit_price"]) for i in parsed)
    return current != wanted


def _line_items_replace(
    opportunity: Opportunity, parsed: list[dict[str, Any]], actor: Any, source: str
) -> None:
    """Make the deal's line items exactly ``parsed``: rows with a known id are updated, the
    others created, the rest deleted (each recorded in the field history)."""
    existing = {li.pk: li for li in opportunity.line_items.all()}
    keep: set[int] = set()
    for item in parsed:
        li = existing.get(item["id"]) if item["id"] is not None else None
        if li is None:
            li = LineItem(opportunity=opportunity)
        else:
            keep.add(li.pk)
        li.product_id, li.seats, li.unit_price = (
            item["product_id"],
            item["seats"],
            item["unit_price"],
        )
        li._history_user = actor  # type: ignore[attr-defined]
        li._change_reason = source  # type: ignore[attr-defined]
        li.save()
    for pk, li in existing.items():
        if pk not in keep:
            li._history_user = actor  # type: ignore[attr-defined]
            li._change_reason = source  # type: ignore[attr-defined]
            li.delete()
