"""The case SLA timer: overdue cases get SlaBreached, once, whenever the timer runs.

The timer holds no state: it asks the case list which open cases are past their due date and
not yet marked, so a restart, a second timer or a long pause never loses or doubles a breach.
"""

from __future__ import annotations

import logging

import anyio

from vigil.application.case_list import CaseList
from vigil.application.casework import Casework
from vigil.domain.errors import DomainError

log = logging.getLogger("vigil.case_sla")


async def mark_overdue_cases(cases: CaseList, desk: Casework, limit: int = 500) -> int:
    """Marks every overdue case the case list knows of, by the desk's clock; returns how many."""
    marked = 0
    for row in await cases.overdue(desk.clock(), limit):
        try:
            await anyio.to_thread.run_sync(desk.breach_case_sla, row.tenant_id, row.id)
        except DomainError as refused:
            # The read model lags the log: the case closed or was marked in the meantime.
            log.info("case %s not marked: %s", row.id, refused)
            continue
        marked += 1
    return marked
