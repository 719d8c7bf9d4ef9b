"""The Django admin: RevOps' Closed-Won approval queue and every record.

The stage is read-only everywhere here. It changes only through the transition service
(``source="admin"``): the queue's Approve / Reject buttons, the bulk actions, the
transition buttons on a deal, and imports. Every other write (saving a deal, an account, a
contact or a product) calls the same service as the UI and the API, so the locks and
checks hold here too. One module per admin:

* :mod:`.catalog` — accounts, contacts, products (import/export: :mod:`.resources`);
* :mod:`.opportunities` — opportunities with their line items;
* :mod:`.approvals` — the approval queue, its page and decisions (:mod:`.decisions`,
  :mod:`.queue_page`);
* :mod:`.records` — audit records and stage requirements.
"""

from django.contrib import admin

from . import approvals, catalog, opportunities, records, users  # noqa: F401 - registers the admins

admin.site.site_header = "closedwon"
admin.site.site_title = "closedwon admin"
admin.site.index_title = "RevOps"
