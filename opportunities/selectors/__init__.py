"""Every read the interfaces need, by topic, each at a constant number of queries:

* :mod:`.opportunities` — one opportunity, the list, the dry run of its transitions;
* :mod:`.approvals` — the pending approval of an opportunity, the approval queue;
* :mod:`.pipeline` — the board, the deal list, the dashboard;
* :mod:`.history` — stage changes and the field history (one diff for every surface).
"""

from .approvals import pending_approval_of, queue_queryset, queue_summary
from .history import field_history, opportunity_history
from .opportunities import (
    line_items_loaded,
    opportunity_checklist,
    opportunity_get,
    opportunity_list,
    opportunity_transition_options,
)

__all__ = [
    "field_history",
    "line_items_loaded",
    "opportunity_checklist",
    "opportunity_get",
    "opportunity_history",
    "opportunity_list",
    "opportunity_transition_options",
    "pending_approval_of",
    "queue_queryset",
    "queue_summary",
]
