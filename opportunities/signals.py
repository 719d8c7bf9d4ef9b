"""Domain signals. Receivers run inside the transition's transaction: they may write rows
but must defer anything that leaves the process with ``transaction.on_commit``."""

from django.dispatch import Signal

# sent with: opportunity, stage_change, approval (or None), actor
opportunity_transitioned = Signal()
