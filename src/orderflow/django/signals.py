"""The signal Django code listens to: one per committed call that moved a record.

    @receiver(transition_committed, sender=Order)
    def tell_the_warehouse(sender, result, record_type, record_id, using, **kwargs): ...

Sent from ``transaction.on_commit``, so a receiver runs after the commit
(outside the transaction: what it writes is its own), never for a call that
rolled back, a dry run or an idempotent replay.  ``result`` is the call's
:class:`~orderflow.service.TransitionResult` (its ``steps`` and
``log_ids`` say how many transitions it took, follow-ups included).
"""

from __future__ import annotations

from django.dispatch import Signal

transition_committed = Signal()
