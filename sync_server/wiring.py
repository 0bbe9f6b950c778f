"""What the application wires at start-up: the hooks that run after every settling pass, in the same transaction.

The core (``sync_server.ratings``) settles ratings and knows nothing of the console or the workflow; the server app,
the CLI and anything else that stores ratings call ``wire_settlement()`` once before they do.
"""

from __future__ import annotations

from sync_server.ratings import set_after_settlement
from sync_server.storage.rollups import keep_rollups
from sync_server.workflow.cases import handle_settled


def wire_settlement() -> None:
    """Rollups first, then the 差评工单 (opened for bad ratings that now count, withdrawn for displaced ones)."""
    set_after_settlement([keep_rollups, handle_settled])
