"""Running the platform's processes side by side, and stopping every one of them on the way out."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from types import TracebackType

log = logging.getLogger("vigil.processes")


PR_SET_PDEATHSIG = 1


class ProcessDied(RuntimeError):
    pass


def detach_from_terminal_and_die_with_parent() -> None:
    """Runs in a child before exec: Ctrl-C reaches only the supervisor, which stops the children
    in order, and a supervisor that is killed outright takes its children with it (Linux)."""
    os.setsid()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: the supervisor's own stop_all() still ends every child it started


class Supervisor:
    """Starts `vigil` sub-commands as children; a child that dies stops the whole platform."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = {**os.environ, **(env or {})}
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        command = [sys.executable, "-m", "vigil", *args]
        log.info("starting %s: %s", name, " ".join(args))
        self.children[name] = subprocess.Popen(  # noqa: S603 - our own command
            command, env=self.env, preexec_fn=detach_from_terminal_and_die_with_parent
        )

    def check(self) -> None:
        for name, child in self.children.items():
            code = child.poll()
            if code is not None:
                raise ProcessDied(f"{name} exited with code {code}")

    def wait_until_healthy(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            try:
                with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 - our own URL
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise ProcessDied(f"{url} did not answer within {timeout:.0f} s")

    def stop_all(self, timeout: float = 15.0) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name, child in self.children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", name)
                child.kill()
                child.wait()
        self.children.clear()

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()
