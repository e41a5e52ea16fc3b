"""The whole platform as a user starts it: processes, embedded NATS, SQLite, HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.console_client import CSRF_INPUT
from vigil.infrastructure.model_store import ModelStore
from vigil.infrastructure.onnx_detector import OnnxDetector
from vigil.infrastructure.record_files import iter_records
from vigil.infrastructure.settings import Settings

pytestmark = pytest.mark.slow

FDH_EXCLUDED = "TX_FRAUD_SCENARIO,TX_TIME_SECONDS,TX_TIME_DAYS"
ANALYST = "e2e-analyst"

ALERTS = """
query Alerts($after: String) {
  alerts(first: 100, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id recordId status score } }
  }
}"""

ACKNOWLEDGE = """
mutation Ack($id: ID!) {
  acknowledgeAlert(input: {alertId: $id, note: "checked with the cardholder"}) {
    __typename
    ... on AlertAcknowledged { alert { id status } }
  }
}"""

TIMELINE = """
query Timeline($id: ID!) { alert(id: $id) { status timeline { event actor } } }
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def vigil(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vigil", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


@pytest.fixture(
    params=["embedded", pytest.param("services", marks=[pytest.mark.postgres, pytest.mark.nats])]
)
def platform_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The embedded default, then the same platform on PostgreSQL, NATS and Redis."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update(
        VIGIL_DATA_DIR=str(tmp_path / "var"),
        VIGIL_PORT=str(free_port()),
        VIGIL_NATS_EMBEDDED_PORT=str(free_port()),
    )
    if request.param == "services":
        settings: Settings = request.getfixturevalue("postgres_settings")
        env.update(
            VIGIL_DATABASE_URL=settings.storage.database_url or "",
            VIGIL_NATS_URL=settings.nats.server_url,
            VIGIL_NATS_SUBJECT_ROOT=settings.nats.subject_root,
            VIGIL_NATS_STREAM_PREFIX=settings.nats.stream_prefix,
            VIGIL_REDIS_URL=settings.features.redis_url or "",
            VIGIL_REDIS_KEY_PREFIX=settings.features.redis_key_prefix,
        )
    return env


@pytest.fixture
def running_platform(platform_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """`vigil run` on free ports; stopped with SIGTERM as an operator would."""
    log = (tmp_path / "platform.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "vigil", "run"],
        env=platform_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{platform_env['VIGIL_PORT']}"
    try:
        wait_for(lambda: httpx.get(f"{base}/healthz", timeout=1).status_code == 200, 60, process)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
        log.close()
        assert code == 0, (tmp_path / "platform.log").read_text()[-3000:]
        # Every process it started went with it: nothing answers on its ports any more.
        for port in (platform_env["VIGIL_PORT"], platform_env["VIGIL_NATS_EMBEDDED_PORT"]):
            assert not answers(int(port)), f"something still listens on {port}"


def wait_for(ready: Any, seconds: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the platform exited with {process.returncode}")
        try:
            if ready():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"not ready within {seconds} s")


def graphql(base: str, token: str, query: str, **variables: Any) -> dict[str, Any]:
    answer = httpx.post(
        f"{base}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    answer.raise_for_status()
    body = answer.json()
    assert "errors" not in body, body
    return dict(body["data"])


def all_alerts(base: str, token: str) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = graphql(base, token, ALERTS, after=after)["alerts"]
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def over_threshold(data_dir: Path, records: Path) -> set[str]:
    """The transactions the trained model (the one artifact in the store, its line's champion)
    scores at or above its threshold."""
    store = ModelStore(data_dir / "models")
    [artifact] = store.root.glob("*.onnx")
    detector = OnnxDetector(store.card(artifact.stem), artifact)
    rows = list(iter_records(records))
    scores = detector.score(rows)
    threshold = detector.card.bands.threshold
    return {str(r["TRANSACTION_ID"]) for r, s in zip(rows, scores, strict=True) if s >= threshold}


CARDS_CONTRACT = Path(__file__).parents[2] / "examples" / "sources" / "cards.yaml"


def test_a_record_goes_in_and_an_alert_comes_out_that_an_analyst_acknowledges(
    platform_env: dict[str, str], card_slice: Path, running_platform: str
) -> None:
    base = running_platform
    analyst_password = "a passphrase long enough"
    vigil(
        platform_env,
        "users",
        "create",
        ANALYST,
        "--role",
        "analyst",
        "--password-stdin",
        stdin=analyst_password + "\n",
    )
    login = {"username": ANALYST, "password": analyst_password}
    assert httpx.post(f"{base}/graphql", json={"query": ALERTS}, timeout=10).json()["errors"]
    token = httpx.post(f"{base}/api/v1/auth/login", json=login, timeout=10).json()["access_token"]
    trained = vigil(
        platform_env,
        "train",
        "--source",
        "cards",
        "--data",
        str(card_slice),
        "--exclude",
        FDH_EXCLUDED,
        "--label",
        "TX_FRAUD",
        "--alert-rate",
        "0.02",
    )
    assert "parity" in trained.stdout.lower()
    assert "registered, champion" in trained.stdout
    applied = vigil(platform_env, "sources", "apply", str(CARDS_CONTRACT))
    assert "cards (csv): version 1" in applied.stdout
    ingest = ("ingest", str(card_slice), "--source", "cards", "--quiet")
    vigil(platform_env, *ingest)

    expected = over_threshold(Path(platform_env["VIGIL_DATA_DIR"]), card_slice)
    wait_for(lambda: graphql(base, token, ALERTS)["alerts"]["totalCount"] == len(expected), 60)
    alerts = all_alerts(base, token)
    assert {a["recordId"] for a in alerts} == expected
    assert (
        len(alerts)
        == len({a["recordId"] for a in alerts})
        == graphql(base, token, ALERTS)["alerts"]["totalCount"]
    )
    assert all(a["status"] == "OPEN" for a in alerts)

    chosen = alerts[0]["id"]
    acknowledged = graphql(base, token, ACKNOWLEDGE, id=chosen)["acknowledgeAlert"]
    assert acknowledged["__typename"] == "AlertAcknowledged"
    timeline = graphql(base, token, TIMELINE, id=chosen)["alert"]
    assert [entry["event"] for entry in timeline["timeline"]] == ["Raised", "Acknowledged"]
    assert timeline["timeline"][1]["actor"] == ANALYST
    # The queue is a projection of the log: it catches up within moments, not instantly.
    wait_for(
        lambda: graphql(base, token, TIMELINE, id=chosen)["alert"]["status"] == "ACKNOWLEDGED", 10
    )

    vigil(platform_env, *ingest)  # the same file again: nothing new may be raised
    time.sleep(3)
    assert graphql(base, token, ALERTS)["alerts"]["totalCount"] == len(alerts)

    with httpx.Client(base_url=base, timeout=10) as browser:
        form = browser.get("/login")
        csrf = CSRF_INPUT.search(form.text)
        assert csrf is not None
        signed_in = {**login, "tenant": "default", "_csrf_token": csrf.group(1)}
        assert browser.post("/login", data=signed_in).status_code == 303
        page = browser.get("/")
    assert page.status_code == 200
    assert alerts[1]["recordId"] in page.text
