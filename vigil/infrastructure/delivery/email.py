"""Email over SMTP: plain text and HTML, with a Message-ID made from the idempotency key, so a
mail client or list that sees the same key twice can tell it is one message.

The standard library's smtplib runs in a worker thread: its socket timeout bounds each attempt,
and no dependency is needed for a protocol spoken once per notification.
"""

from __future__ import annotations

import hashlib
import html
import smtplib
from email.message import EmailMessage

import anyio.to_thread

from vigil.application.delivery import AttemptResult, DeliveryOrder
from vigil.domain.delivery import AttemptOutcome
from vigil.domain.subscription import Destination
from vigil.infrastructure.delivery.webhook import IDEMPOTENCY_KEY
from vigil.infrastructure.delivery.wording import console_link, facts, headline, step_text
from vigil.infrastructure.settings import SmtpSettings


def message_id(key: str, sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1] or "vigil"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def escalation_email(
    order: DeliveryOrder, recipients: tuple[str, ...], sender: str, public_url: str
) -> EmailMessage:
    link = console_link(public_url, order.alert.alert_id)
    message = EmailMessage()
    message["Subject"] = headline(order)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Message-ID"] = message_id(order.key, sender)
    message[IDEMPOTENCY_KEY] = order.key
    lines = [headline(order), step_text(order), ""]
    lines += [f"{name}: {value}" for name, value in facts(order)]
    message.set_content("\n".join([*lines, "", f"Open the alert: {link}", ""]))
    rows = "".join(
        f"<tr><th align='left'>{html.escape(n)}</th><td>{html.escape(v)}</td></tr>"
        for n, v in facts(order)
    )
    message.add_alternative(
        f"<html><body><h2>{html.escape(headline(order))}</h2>"
        f"<p>{html.escape(step_text(order))}</p><table>{rows}</table>"
        f"<p><a href='{html.escape(link)}'>Open the alert</a></p></body></html>",
        subtype="html",
    )
    return message


class EmailChannel:
    """Implements `Channel` for email: a 5xx reply is refused for good, a 4xx or a lost
    connection is tried again."""

    def __init__(self, settings: SmtpSettings, public_url: str) -> None:
        self.settings = settings
        self.public_url = public_url

    async def send(
        self, order: DeliveryOrder, destination: Destination, seconds: float
    ) -> AttemptResult:
        message = escalation_email(
            order, destination.recipients, self.settings.from_address, self.public_url
        )
        return await anyio.to_thread.run_sync(self._send, message, seconds)

    def _send(self, message: EmailMessage, seconds: float) -> AttemptResult:
        smtp = self.settings
        try:
            with smtplib.SMTP(smtp.host, smtp.port, timeout=seconds) as client:
                if smtp.starttls:
                    client.starttls()
                if smtp.username:
                    client.login(smtp.username, smtp.password or "")
                refused = client.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            return _replied(min(code for code, _ in error.recipients.values()), str(error))
        except smtplib.SMTPResponseException as error:
            said = error.smtp_error
            text = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
            return _replied(error.smtp_code, text)
        except (TimeoutError, smtplib.SMTPException, OSError) as error:
            return AttemptResult(AttemptOutcome.FAILED, error=f"{type(error).__name__}: {error}")
        if refused:
            # Some recipients took it: telling them again is worse than missing the others.
            return AttemptResult(AttemptOutcome.DELIVERED, 250, f"refused by {sorted(refused)}")
        return AttemptResult(AttemptOutcome.DELIVERED, 250)


def _replied(code: int, text: str) -> AttemptResult:
    outcome = AttemptOutcome.REFUSED if code >= 500 else AttemptOutcome.FAILED
    return AttemptResult(outcome, code, f"SMTP {code}: {text}"[:300])
