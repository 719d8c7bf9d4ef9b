"""``{% documents_panel deal %}``: the deal page's documents section (list, download,
remove, upload form), one query for the documents."""

from __future__ import annotations

from typing import Any

from django import template

from opportunities.stages import LOCKED_STAGES

from .. import selectors, services
from ..models import DocumentKind

register = template.Library()


@register.inclusion_tag("documents/_panel.html", takes_context=True)
def documents_panel(context: template.Context, opportunity: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    can_manage = services.can_manage(user, opportunity)
    return {
        "opportunity": opportunity,
        "documents": list(selectors.documents_for_opportunity(opportunity.pk)),
        "kinds": DocumentKind.choices,
        "can_upload": can_manage,
        "can_remove": can_manage and opportunity.stage not in LOCKED_STAGES,
        "locked": opportunity.stage in LOCKED_STAGES,
        "csrf_token": context.get("csrf_token"),
        "request": request,
    }
