"""The app's HTTP routes as the permission matrices walk them: a method and a declared path."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from uuid import uuid4

from litestar import Litestar
from litestar.routes import HTTPRoute


@dataclass(frozen=True)
class AppRoute:
    method: str
    path: str
    """As declared, with its parameters' types: `/api/v1/cases/{case_id:uuid}/files`."""

    def url(self) -> str:
        """The path with a random id, which no tenant has got, in each (uuid or str) parameter."""
        return re.sub(r"\{\w+:(uuid|str)\}", lambda _: str(uuid4()), self.path)


def app_routes(app: Litestar, where: Callable[[str], bool]) -> Iterator[AppRoute]:
    """Every method of every route whose path `where` accepts; HEAD and OPTIONS are the
    framework's own."""
    for route in app.routes:
        if isinstance(route, HTTPRoute) and where(route.path):
            for handler in route.route_handlers:
                for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"}):
                    yield AppRoute(method, route.path)
