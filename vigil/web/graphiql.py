"""GraphiQL served by Vigil itself, so the schema explorer works on an air-gapped install.

Its scripts and styles come from the npm registry at build time (`make graphiql`) into
`static/graphiql/`, which git ignores; the page loads nothing from another host. Where they have
not been installed, `/graphql` in a browser says how to install them.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
ASSETS = HERE / "static" / "graphiql"
ASSET_NAMES = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "graphiql.min.css",
)

NOT_INSTALLED = """<!doctype html>
<html lang="en">
  <head><meta charset="utf-8" /><title>Vigil GraphiQL</title></head>
  <body>
    <h1>GraphiQL is not installed</h1>
    <p>Its files come from the npm registry when Vigil is built: run <code>make graphiql</code>
    (it needs <code>npm</code>) and reload this page. The API itself answers at this address:
    POST queries and mutations here, or open a websocket for subscriptions.</p>
  </body>
</html>
"""


def graphiql_page() -> str:
    """Read per request, so assets installed while the server runs are picked up."""
    if all((ASSETS / name).is_file() for name in ASSET_NAMES):
        return (HERE / "templates" / "graphiql.html").read_text()
    return NOT_INSTALLED
