"""Test harness for the product SDK tests: a real `tollgate serve` on 127.0.0.1, real keys, the
real `tollgateai` client pointed at it through the environment variables it reads.

- The server is the workspace's own `tollgate` binary (`$TOLLGATE_BIN`, else
  `target/debug/tollgate`, else `target/release/tollgate`), started on 127.0.0.1 with a free
  port and a fresh temporary data directory; keys come from `tollgate keys create`.
- `tollgateai` reads `TOLLGATE_API_KEY` and `TOLLGATE_BASE_URL` when a client is created
  (`create_tollgate_client()`); `Server.sdk_env()` sets exactly those.
- What the server booked is read back with our own binding: after a graceful stop the
  workspace's data directory is an ordinary store, opened with `tollgate_engine.Engine.open`.

Imports the source-tree binding (`ffi/python`, the release library under `target/release/`)
and the replay server (`ffi/replay/server.py`). Without `tollgateai` the tests skip, unless
`TOLLGATE_REQUIRE_SDKS=1` (CI): then the import error fails the suite.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO / "ffi" / "python"))
sys.path.insert(0, str(REPO / "ffi" / "replay"))

import tollgate_engine as tg  # noqa: E402  (our binding, the reference side of every comparison)

REQUIRE_SDKS = os.environ.get("TOLLGATE_REQUIRE_SDKS") == "1"
REQUIRE_SHARED = bool(os.environ.get("TOLLGATE_REQUIRE_SHARED"))
SHARED = Path(os.environ["TOLLGATE_SHARED_DIR"]) if os.environ.get("TOLLGATE_SHARED_DIR") else REPO.parent / "shared"
SHARED_FIXTURES = SHARED / "fixtures" / "providers"
OWN_FIXTURES = REPO / "data" / "fixtures" / "providers"

try:
    import tollgate as tollgateai  # the product SDK (PyPI `tollgateai`, pinned 1.1.0)
    from tollgate import instrument as tollgateai_instrument

    SDK_MISSING: Optional[BaseException] = None
except ImportError as e:  # pragma: no cover - depends on the environment
    if REQUIRE_SDKS:
        raise
    tollgateai = None  # type: ignore[assignment]
    tollgateai_instrument = None  # type: ignore[assignment]
    SDK_MISSING = e

SDK_VERSION = "1.1.0"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0


def require_sdk(test_case_or_module=None) -> None:
    """Skip (or, under TOLLGATE_REQUIRE_SDKS=1, fail) when tollgateai is not importable or not
    the pinned version."""
    import unittest

    if SDK_MISSING is not None:
        raise unittest.SkipTest(f"tollgateai not installed: {SDK_MISSING}")
    if tollgateai.__version__ != SDK_VERSION:
        raise AssertionError(f"tollgateai {tollgateai.__version__} installed; these tests pin {SDK_VERSION}")


def require_shared() -> None:
    import unittest

    if SHARED_FIXTURES.is_dir():
        return
    if REQUIRE_SHARED:
        raise AssertionError(f"{SHARED_FIXTURES} is absent and TOLLGATE_REQUIRE_SHARED is set")
    print(f"SKIPPED: {SHARED_FIXTURES} is absent (it lives in ../shared beside the repository)", file=sys.stderr)
    raise unittest.SkipTest(f"{SHARED_FIXTURES} is absent")


def tollgate_bin() -> str:
    env = os.environ.get("TOLLGATE_BIN")
    if env:
        return env
    for p in (REPO / "target" / "debug" / "tollgate", REPO / "target" / "release" / "tollgate"):
        if p.is_file():
            return str(p)
    raise AssertionError("no tollgate binary: run `cargo build -p tollgate-cli` or set TOLLGATE_BIN")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `tollgate serve` process on 127.0.0.1 with its own temporary data directory."""

    def __init__(self, workspace: str = "default") -> None:
        self.bin = tollgate_bin()
        self.tmp = tempfile.mkdtemp(prefix="tollgate-srv-client-")
        self.data = os.path.join(self.tmp, "data")
        os.makedirs(self.data)
        self.workspace = workspace
        self.proc: Optional[subprocess.Popen] = None
        self.port = 0
        self.log_path = os.path.join(self.tmp, "server.log")
        self.keys: Dict[str, str] = {}

    # ---- keys

    def create_key(self, scope: str = "ingest", workspace: Optional[str] = None) -> str:
        """A new key's secret, from `tollgate keys create` (printed once, stored hashed)."""
        ws = workspace or self.workspace
        out = subprocess.run(
            [self.bin, "keys", "create", "--data", self.data, "--workspace", ws, "--scope", scope],
            check=True, capture_output=True, text=True, timeout=60,
        ).stdout
        secret = out.strip()  # the secret alone on stdout; the notice goes to stderr
        assert secret and "\n" not in secret, out
        self.keys[scope] = secret
        return secret

    # ---- lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Server":
        for _ in range(5):  # a free port can be taken between the probe and the bind: retry
            self.port = free_port()
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [self.bin, "serve", "--data", self.data, "--listen", f"127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
            log.close()
            if self._wait_ready():
                return self
            self.proc.kill()
            self.proc.wait()
        raise AssertionError(f"tollgate serve did not start; log:\n{self.log()}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Graceful stop (SIGTERM: drain, checkpoint); fails the test if the server does not exit 0."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"tollgate serve ignored SIGTERM; log:\n{self.log()}")
        rc = self.proc.returncode
        self.proc = None
        if rc != 0:
            raise AssertionError(f"tollgate serve exited {rc}; log:\n{self.log()}")

    def close(self) -> None:
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def log(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()[-8000:]
        except OSError:
            return ""

    # ---- the SDK's view

    def sdk_env(self, scope: str = "ingest") -> Dict[str, str]:
        """The two variables tollgateai reads: TOLLGATE_API_KEY and TOLLGATE_BASE_URL."""
        return {"TOLLGATE_API_KEY": self.keys[scope], "TOLLGATE_BASE_URL": self.url}

    def sdk_client(self, scope: str = "ingest", cls=None, **kw):
        """`tollgate.create_tollgate_client()` (or `cls()`, a TollgateClient subclass) configured
        the way a user self-hosts: only through the environment (the variables are set for the
        duration of the call that creates it)."""
        saved = {k: os.environ.get(k) for k in ("TOLLGATE_API_KEY", "TOLLGATE_BASE_URL")}
        os.environ.update(self.sdk_env(scope))
        try:
            client = cls(**kw) if cls is not None else tollgateai.create_tollgate_client(**kw)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        assert client.base_url == self.url, client.base_url
        return client

    # ---- raw HTTP (for status codes and bodies the SDK hides)

    def post(self, path: str, body, scope: str = "ingest"):
        data = body if isinstance(body, (bytes, bytearray)) else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method="POST",
            headers={"Content-Type": "application/json", "Authorization": "Bearer " + self.keys[scope]},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def get(self, path: str, scope: str = "read"):
        """`GET path` with the key of `scope`: (status, parsed JSON body)."""
        req = urllib.request.Request(self.url + path, headers={"Authorization": "Bearer " + self.keys[scope]})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    # ---- what the server booked

    def workspace_dir(self, workspace: Optional[str] = None) -> str:
        return os.path.join(self.data, "workspaces", workspace or self.workspace)

    def open_store(self, workspace: Optional[str] = None):
        """The workspace's ledger as our binding reads it (the server must be stopped)."""
        assert self.proc is None, "stop the server before opening its store"
        return tg.Engine.open(self.workspace_dir(workspace), durability="none")


def comparable_report(engine, query: Optional[dict] = None) -> dict:
    """The engine's report without the parts that depend on when it was asked (the window's
    subscription day)."""
    r = engine.report(query or {"groupBy": ["customer", "run"]})
    r.pop("window", None)
    return r


# ---- recorded responses


def sse_payloads(data: bytes) -> List[dict]:
    """The JSON payloads of an SSE stream (`data:` lines joined per event; `[DONE]` dropped)."""
    out = []
    text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    for block in text.split("\n\n"):
        lines = [ln[5:].lstrip(" ") if ln.startswith("data:") else None for ln in block.split("\n")]
        payload = "\n".join(x for x in lines if x is not None)
        if payload.strip() and payload.strip() != "[DONE]":
            out.append(json.loads(payload))
    return out


def jsonl_payloads(data: bytes) -> List[dict]:
    return [json.loads(ln) for ln in data.decode("utf-8").splitlines() if ln.strip()]


def bedrock_stream_events(path: Path) -> List[dict]:
    """A ConverseStream as boto3 yields it: one `{eventType: payload}` dict per event."""
    if path.suffix == ".eventstream":
        decoded = path.with_name(path.name[: -len(".eventstream")] + ".decoded.jsonl")
        out = []
        for ev in jsonl_payloads(decoded.read_bytes()):
            payload = {k: v for k, v in ev["payload"].items() if k != "p"}  # "p": AWS padding
            out.append({ev["headers"][":event-type"]: payload})
        return out
    return jsonl_payloads(path.read_bytes())
