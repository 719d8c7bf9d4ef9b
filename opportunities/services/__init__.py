"""Every write to the sales domain, by topic (``<entity>_<action>``, keyword-only).

Views, the API, admin actions, imports, management commands and tasks all call these, so
the same rules hold on every path:

* :mod:`.catalog` — accounts, contacts, products;
* :mod:`.opportunities` — create and update (gated fields locked while pending or won);
* :mod:`.line_items` — the one line-item parser, and replacing line items;
* :mod:`.transitions` — the only code that changes a stage;
* :mod:`.imports` — CSV rows through the services above.
"""

from .catalog import (
    account_create,
    account_update,
    contact_create,
    contact_update,
    product_create,
    product_update,
)
from .line_items import parse_line_items
from .opportunities import (
    opportunities_create_many,
    opportunity_create,
    opportunity_prepare,
    opportunity_update,
)
from .transitions import opportunity_transition

__all__ = [
    "account_create",
    "account_update",
    "contact_create",
    "contact_update",
    "opportunities_create_many",
    "opportunity_create",
    "opportunity_prepare",
    "opportunity_transition",
    "opportunity_update",
    "parse_line_items",
    "product_create",
    "product_update",
]
