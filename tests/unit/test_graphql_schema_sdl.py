"""The committed SDL is the schema the server runs, so clients can review API changes in diffs."""

from __future__ import annotations

from vigil.graphql.schema import SDL_PATH, sdl


def test_the_committed_sdl_matches_the_schema_the_server_runs() -> None:
    assert SDL_PATH.read_text() == sdl(), (
        "vigil/graphql/schema.graphql is out of date: run `python -m vigil.graphql.schema`"
    )
