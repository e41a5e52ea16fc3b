"""The app's HTTP routes as the permission matrices walk them: a method and a declared path."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from uuid import uuid4

from litestar import Litestar
from litestar.routes import ASGIRoute, HTTPRoute


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
        if not where(route.path):
            continue
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"}):
                    yield AppRoute(method, route.path)
        elif isinstance(route, ASGIRoute):
            # A route that answers its ASGI calls itself names its methods in its options, so
            # that it cannot slip past the matrices.
            methods = route.route_handler.opt.get("http_methods")
            if not methods:
                raise ValueError(f"the ASGI route {route.path} declares no http_methods")
            for method in methods:
                yield AppRoute(method, route.path)
