"""Trained models as the tests need them: registered on their line, and its champion loaded."""

from __future__ import annotations

from vigil.application.detection import Detector, ModelCard
from vigil.application.model_lines import register_version
from vigil.bootstrap import build_alert_desk, build_model_registry
from vigil.infrastructure.settings import Settings


def registered(settings: Settings, card: ModelCard, tenant_id: str = "default") -> ModelCard:
    """The trained card registered on its line, as `vigil train` does: a new line's first
    version is its champion."""
    desk = build_alert_desk(settings)
    try:
        register_version(desk, tenant_id, "test-trainer", card, "")
    finally:
        desk.close()
    return card


def champion(settings: Settings, source: str, tenant_id: str = "default") -> Detector:
    """The source's one champion, as the score worker loads it."""
    desk = build_alert_desk(settings)
    try:
        [detector] = build_model_registry(settings, desk).scorers(tenant_id, source).champions
    finally:
        desk.close()
    return detector
