"""Replaying dead letters on the machine's NATS JetStream: records refused over HTTP under one
contract go onto the records stream once a new contract document accepts them; what still fails
stays with its new reason; and a replay run again, even after one that stopped half-way, stores
nothing twice."""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import anyio
import pytest
import yaml

from tests.builders import card_envelope
from tests.graphql_client import TENANT
from tests.integration.ingest_service import (
    CARDS_CONTRACT,
    CUSTOMER,
    card,
    cards_ready,
    engineer_client,
    letter_count,
    letters_of,
    records_on,
    tokens,
)
from vigil.application.dead_letters import DeadLetterBox, StoredDeadLetter, replay_dead_letters
from vigil.application.ports import DeadLetter
from vigil.bootstrap import Streams, build_alert_desk, build_intake, open_streams
from vigil.cli_sources import apply_file, cmd_replay
from vigil.infrastructure.settings import Settings

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

INGEST = "/api/v1/ingest/cards"


@pytest.fixture
def settings(postgres_settings: Settings) -> Settings:
    return cards_ready(postgres_settings, TENANT)


@pytest.fixture
async def streams(settings: Settings) -> AsyncIterator[Streams]:
    async with open_streams(settings, "test-reader") as streams:
        yield streams


@pytest.fixture
async def refused_channels(settings: Settings, streams: Streams) -> None:
    """Three transactions naming their channel, which the cards contract does not know, and a
    body that is no JSON at all, in the dead letters, sent over HTTP; one plain transaction
    accepted."""
    batch = [card(1, CHANNEL="pos"), card(2, CHANNEL="web"), card(3, CHANNEL="phone"), card(4)]
    async with engineer_client(settings) as client:
        answer = (await client.post(INGEST, json=batch)).json()
        broken = await client.post(INGEST, content=b'{"TRANSACTION_ID": 5, "CHANNEL": ')
    assert (answer["accepted"], answer["deadLettered"]) == (1, 3)
    assert {error["field"] for error in answer["errors"]} == {"CHANNEL"}
    assert broken.status_code == 422
    assert await letter_count(streams, TENANT, "cards") == 4


def apply_channels(settings: Settings, tmp_path: Path) -> None:
    """`vigil sources apply` of the cards document with a CHANNEL field of two values."""
    document = yaml.safe_load(CARDS_CONTRACT.read_text())
    document["schema"]["properties"]["CHANNEL"] = {"type": "string", "enum": ["pos", "web"]}
    path = tmp_path / "cards-v2.yaml"
    path.write_text(yaml.safe_dump(document))
    desk = build_alert_desk(settings)
    try:
        assert apply_file(desk, TENANT, "test", path, "channels") == ["cards (csv): version 2"]
    finally:
        desk.close()


def replay_by_cli(settings: Settings) -> int:
    """`vigil sources replay cards --tenant acme`; it runs its own event loop."""
    args = argparse.Namespace(tenant=TENANT, name="cards", limit=None)
    return cmd_replay(args, settings)


@pytest.mark.usefixtures("refused_channels")
async def test_replay_moves_what_the_new_contract_accepts_and_keeps_the_rest_with_its_new_reason(
    streams: Streams, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    apply_channels(settings, tmp_path)

    assert await anyio.to_thread.run_sync(replay_by_cli, settings) == 0

    assert "replayed 2; refused again 2" in capsys.readouterr().out
    envelopes = await records_on(streams, "cards")
    assert [e.record_id for e in envelopes] == ["4", "1", "2"]
    assert [e.data.get("CHANNEL") for e in envelopes] == [None, "pos", "web"]
    # Tokenised once, at the first intake: the replayed records link to the same cardholder.
    token = tokens(settings).token(TENANT, CUSTOMER)
    assert {e.entity_id for e in envelopes} == {e.data["CUSTOMER_ID"] for e in envelopes} == {token}
    kept = [stored.letter for stored in await letters_of(streams, TENANT, "cards")]
    assert [(letter.field, letter.origin.startswith("rest:")) for letter in kept] == [
        ("CHANNEL", True),
        ("record", True),
    ]
    assert "must be one of ['pos', 'web']" in kept[0].reason
    assert json.loads(kept[0].body)["CHANNEL"] == "phone"
    assert "not JSON" in kept[1].reason


@pytest.mark.usefixtures("refused_channels")
async def test_a_second_replay_publishes_nothing_again(
    streams: Streams, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    apply_channels(settings, tmp_path)
    await anyio.to_thread.run_sync(replay_by_cli, settings)
    capsys.readouterr()

    await anyio.to_thread.run_sync(replay_by_cli, settings)

    assert "replayed 0; refused again 2" in capsys.readouterr().out
    assert len(await records_on(streams, "cards")) == 3
    assert await letter_count(streams, TENANT, "cards") == 2


class CrashingBox:
    """The dead letters, as a replay sees them when its process dies after putting letters back
    on the streams and before removing them."""

    def __init__(self, box: DeadLetterBox) -> None:
        self.box = box

    async def count(self, tenant_id: str, source: str | None = None) -> dict[str, int]:
        return await self.box.count(tenant_id, source)

    async def page(
        self, tenant_id: str, source: str, after: int, first: int
    ) -> list[StoredDeadLetter]:
        return await self.box.page(tenant_id, source, after, first)

    async def newest(self, tenant_id: str, source: str) -> int:
        return await self.box.newest(tenant_id, source)

    async def remove(self, sequences: Sequence[int]) -> None:
        raise ConnectionResetError("the replaying process died")

    async def resend(self, letter: StoredDeadLetter) -> None:
        await self.box.resend(letter)


@pytest.mark.usefixtures("refused_channels")
async def test_a_replay_run_again_after_one_that_died_before_removing_stores_nothing_twice(
    streams: Streams, settings: Settings, tmp_path: Path
) -> None:
    unscored = card_envelope({**card(6), "TX_DATETIME": "2018-04-01 00:01:00"}, TENANT)
    refused_by_model = DeadLetter(
        TENANT, "cards", unscored.to_json(), "model", "no champion", "score", "score:6", True
    )
    await streams.dead_letters.send([refused_by_model])
    apply_channels(settings, tmp_path)
    desk = build_alert_desk(settings)
    try:
        intake = build_intake(settings, desk, streams)
        with pytest.raises(ConnectionResetError):
            await replay_dead_letters(CrashingBox(streams.dead_letter_box), intake, TENANT, "cards")
        assert len(await records_on(streams, "cards")) == 4  # 4 at first, then 1, 2 and 6 put back
        assert await letter_count(streams, TENANT, "cards") == 5 + 2

        report = await replay_dead_letters(streams.dead_letter_box, intake, TENANT, "cards")
    finally:
        desk.close()

    assert [e.record_id for e in await records_on(streams, "cards")] == ["4", "1", "2", "6"]
    kept = [stored.letter for stored in await letters_of(streams, TENANT, "cards")]
    assert sorted(letter.field for letter in kept) == ["CHANNEL", "record"]
    assert report.refused_again == 4  # the two left over, and the two the first run refused
