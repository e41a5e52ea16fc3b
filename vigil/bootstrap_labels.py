"""The composition of the label worker (`vigil worker labels`), beside `vigil.bootstrap`.

Workers may not import adapters or the composition root (import-linter's layers), so the
worker's loop is `vigil.workers.labels` and this builds what it runs from settings.
"""

from __future__ import annotations

import asyncio
import logging

import anyio

from vigil import bootstrap
from vigil.application.alert_desk import AlertDesk
from vigil.application.alerted_records import AlertedRecords
from vigil.application.features import RecordsInTurn, WindowStore
from vigil.application.label_follower import InProcessLabelPosition, LabelFollower, LabelPosition
from vigil.application.model_lines import ModelLineDirectory
from vigil.application.windowed_records import WindowedRecords
from vigil.infrastructure.label_position import RedisLabelPosition
from vigil.infrastructure.served_pipelines import ServedPipelines
from vigil.infrastructure.settings import Settings
from vigil.infrastructure.window_store import RedisWindowStore
from vigil.workers.labels import follow_labels

log = logging.getLogger("vigil.bootstrap")


def label_position(windows: WindowStore) -> LabelPosition:
    """Kept with the histories it describes: in their Redis, or in memory beside them."""
    if isinstance(windows, RedisWindowStore):
        return RedisLabelPosition(windows.redis, windows.prefix)
    return InProcessLabelPosition()


def build_label_follower(
    settings: Settings, desk: AlertDesk, windows: WindowStore, position: LabelPosition | None = None
) -> LabelFollower:
    """Labels of the desk's log into `windows`, for the pipelines of each source's champions and
    shadows. A labelled record is found where `windows` keeps it beside its label histories,
    else by the alert it raised: records observed before the window store kept places of
    records have only that."""
    lines = ModelLineDirectory(desk)
    pipelines = ServedPipelines(lines, bootstrap.build_model_store(settings))
    return LabelFollower(
        desk=desk,
        records=RecordsInTurn(WindowedRecords(windows, pipelines), AlertedRecords(desk, lines)),
        store=windows,
        pipelines=pipelines,
        position=position or label_position(windows),
    )


async def run_label_worker(
    settings: Settings, stop: asyncio.Event, every_seconds: float = 2.0
) -> None:
    """`vigil worker labels`: record labels into the label windows, until `stop`."""
    desk = await anyio.to_thread.run_sync(bootstrap.build_alert_desk, settings)
    try:
        async with bootstrap.open_window_store(settings) as windows:
            if not isinstance(windows, RedisWindowStore):
                log.warning(
                    "no VIGIL_REDIS_URL: the label windows fed are this process's own, which no"
                    " score worker reads"
                )
            log.info("label worker following the Label events")
            await follow_labels(build_label_follower(settings, desk, windows), stop, every_seconds)
    finally:
        desk.close()
