"""Real receivers for delivery tests: an HTTP server that checks Vigil's signatures and answers as
told (fail, hold, drop repeats), and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    signed: bool
    """Whether `Vigil-Signature` is the HMAC of `<timestamp>.<body>` under the secret."""

    @property
    def key(self) -> str:
        return self.headers.get("Vigil-Idempotency-Key", "")


@dataclass
class Endpoint:
    """One path's behaviour: `replies` are answered in turn, then 200."""

    secret: str | None = None
    replies: deque[int] = field(default_factory=deque)
    hold: asyncio.Event | None = None
    """While set to an unset event, requests wait for it before answering."""
    requests: list[Request] = field(default_factory=list)
    processed: list[str] = field(default_factory=list)
    """Keys acted on: a repeat of one is answered 200 and dropped, as receivers should."""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


class Receiver:
    def __init__(self) -> None:
        self.endpoints: dict[str, Endpoint] = {}
        self.base_url = ""

    def endpoint(self, path: str, **behaviour: Any) -> Endpoint:
        self.endpoints[path] = Endpoint(**behaviour)
        return self.endpoints[path]

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    async def handle(self, request: web.Request) -> web.Response:
        endpoint = self.endpoints[request.path]
        raw = await request.read()
        headers = dict(request.headers)
        signed = False
        if endpoint.secret is not None:
            signed_text = f"{headers.get('Vigil-Timestamp', '')}.".encode() + raw
            digest = hmac.new(endpoint.secret.encode(), signed_text, hashlib.sha256).hexdigest()
            signed = hmac.compare_digest(headers.get("Vigil-Signature", ""), f"sha256={digest}")
        received = Request(request.path, headers, json.loads(raw), signed)
        endpoint.requests.append(received)
        endpoint.arrived.set()
        if endpoint.secret is not None and not signed:
            return web.Response(status=401, text="bad signature")
        if received.key in endpoint.processed:
            return web.Response(status=200, text="repeat dropped")
        endpoint.processed.append(received.key)
        if endpoint.hold is not None:
            await endpoint.hold.wait()
        status = endpoint.replies.popleft() if endpoint.replies else 200
        if status >= 300:
            endpoint.processed.remove(received.key)
        return web.Response(status=status, text=f"answered {status}")


@asynccontextmanager
async def http_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/{path:.*}", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", free_port())
    await site.start()
    host, port = runner.addresses[0][:2]
    receiver.base_url = f"http://{host}:{port}"
    try:
        yield receiver
    finally:
        for endpoint in receiver.endpoints.values():
            if endpoint.hold is not None:
                endpoint.hold.set()
        await runner.cleanup()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mailbox:
    """aiosmtpd's handler: every message it was given, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802  # aiosmtpd's hook name
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
