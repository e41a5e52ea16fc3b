"""One HTTP attempt and what its reply means for a delivery, shared by the webhook and Slack."""

from __future__ import annotations

import httpx

from vigil.application.delivery import AttemptResult
from vigil.domain.delivery import AttemptOutcome

RETRIED_4XX = frozenset({408, 425, 429})
"""Client errors that say "later", not "never"."""


async def post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], seconds: float
) -> AttemptResult:
    """2xx is delivered; other 4xx but those above are refused for good; the rest, timeouts and
    connection errors included, are worth another attempt."""
    try:
        reply = await client.post(
            url, content=body, headers=headers, timeout=httpx.Timeout(seconds)
        )
    except httpx.TimeoutException:
        return AttemptResult(AttemptOutcome.FAILED, error=f"no answer within {seconds:g}s")
    except httpx.HTTPError as error:
        return AttemptResult(AttemptOutcome.FAILED, error=f"{type(error).__name__}: {error}")
    status = reply.status_code
    if 200 <= status < 300:
        return AttemptResult(AttemptOutcome.DELIVERED, status)
    said = f"HTTP {status}: {reply.text[:200]}".strip().rstrip(":")
    if 400 <= status < 500 and status not in RETRIED_4XX:
        return AttemptResult(AttemptOutcome.REFUSED, status, said)
    return AttemptResult(AttemptOutcome.FAILED, status, said)
