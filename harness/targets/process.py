"""The `process` target: the service (``python -m app.server``, uvicorn configured as the image
runs it) as a real subprocess on a free port."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

from harness import processes
from harness import timeline as phases
from harness.leftovers import Leftover
from harness.paths import REPO_ROOT
from harness.ports import free_port
from harness.readiness import wait_for_health
from harness.targets.base import RESTART, TEARDOWN, Endpoint, Target

logger = logging.getLogger(__name__)


class ServiceProcess:
    """One uvicorn process serving the app over a given database, on a given port."""

    def __init__(self, database: Path, port: int, api_key: str | None, *, log_path: Path) -> None:
        self.database = database
        self.port = port
        self.api_key = api_key
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, *, timeout: float = 30.0) -> None:
        env = {
            **os.environ,
            "DATABASE_PATH": str(self.database),
            "API_KEY": self.api_key or "",
            "PYTHONUNBUFFERED": "1",
        }
        self._log = self.log_path.open("ab")
        command = [sys.executable, "-m", "app.server"]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        self._process = subprocess.Popen(  # nosec B603 - a fixed command, no shell
            command, cwd=REPO_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            wait_for_health(
                self.base_url,
                timeout=timeout,
                still_alive=self.alive,
                context=self.output,
            )
        except BaseException:
            self.stop()
            raise

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def output(self) -> str:
        """What the server printed so far."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "server output:\n" + text[-4000:]

    def stop(self, *, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``. Returns the exit code."""
        code = None
        if self._process is not None:
            code = processes.stop(self._process, timeout=timeout)
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to clean up."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


class ProcessTarget(Target):
    """A fresh server with its own temporary database and a generated API key."""

    name = "process"
    capabilities = frozenset({RESTART, TEARDOWN})

    _workdir: Path | None = None
    _server: ServiceProcess | None = None
    #: What start() made, remembered past stop() so that leftovers() can look for it.
    _made: tuple[int | None, Path] | None = None

    def _start(self) -> Endpoint:
        self._workdir = Path(tempfile.mkdtemp(prefix=f"state-api-{self.options.run_id}-"))
        self._made = (None, self._workdir)
        api_key = self.run_key()
        self._server = ServiceProcess(
            self._workdir / "logs.db",
            free_port(),
            api_key,
            log_path=self._workdir / "server.log",
        )
        with self.timeline.phase(phases.START):
            self._server.start()
        self._made = (self._server.pid, self._workdir)
        logger.info("process target: %s (data in %s)", self._server.base_url, self._workdir)
        return Endpoint(self._server.base_url, api_key)

    def restart(self) -> None:
        assert self._server is not None, "start() first"
        assert self._workdir is not None
        with self.timeline.phase(phases.RESTART):
            self._server.stop()
            self._server.start()
        self._made = (self._server.pid, self._workdir)

    def leftovers(self) -> list[Leftover]:
        """The server process and the data directory of this run, while they exist."""
        if self._made is None:
            return []
        pid, workdir = self._made
        found = []
        if pid is not None and _running(pid):
            found.append(
                Leftover("process", str(pid), f"running (uvicorn of {self.options.run_id})")
            )
        if workdir.exists():
            found.append(Leftover("directory", str(workdir)))
        return found

    def _stop(self) -> None:
        with self.timeline.phase(phases.STOP):
            if self._server is not None:
                self._server.stop()
                self._server = None
            if self._workdir is not None:
                if self.options.keep:
                    logger.warning("kept the data of the process target in %s", self._workdir)
                else:
                    shutil.rmtree(self._workdir, ignore_errors=True)
                self._workdir = None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user's
    return True
