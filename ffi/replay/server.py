#!/usr/bin/env python3
"""Replay server for the SDK wrapper tests: serves recorded provider responses on 127.0.0.1.

The real provider SDKs (Python, Node, Go) are pointed at it (``base_url``, ``endpoint_url``,
``http_options``…) and receive recorded bytes exactly as the provider sent them: JSON bodies,
``text/event-stream`` streams and AWS ``application/vnd.amazon.eventstream`` binaries.

Recordings are read at request time from the fixtures directory (``--fixtures``, default
``../shared/fixtures/providers`` beside the repository) and are never copied into the project.

A request path is ``/r/<spec>/<anything the SDK appends>``; ``<spec>`` is the recording name
followed by comma-separated options:

=====================  ===================================================================
``status=N``           answer HTTP ``N`` with the provider's error body shape instead
``failonce=TAG``       the first request carrying ``TAG`` gets HTTP 500, later ones the recording
``cut=N``              send only the first ``N`` bytes of the body, then drop the connection
``hold=N``             send only the first ``N`` bytes of a stream, then send nothing more and
                       keep the connection open until the client goes away (at most
                       ``HOLD_SECONDS``): a client that stops early has seen exactly ``N`` bytes
``chunk=N``            write the body in ``N``-byte pieces (default: one piece per stream event)
``tag=TAG``            count the request under ``TAG`` (``GET /_count/TAG`` returns the count
                       and the model the last one asked for)
``repeat=N``           a stream recording's events repeated ``N`` times (benchmarks)
=====================  ===================================================================

Derived shapes the recordings lack (built from a recording at request time):

* ``<name>.jsonl`` of a chat stream → SSE ``data:`` lines ending ``data: [DONE]``; of an
  Anthropic stream → SSE with ``event:`` names; of a Bedrock ConverseStream → AWS event stream.
* ``invoke_stream=<anthropic .sse>`` → the AWS event stream of Bedrock
  ``InvokeModelWithResponseStream`` (each Anthropic event base64 in a ``chunk`` event).

Run: ``python3 server.py [--port 0] [--fixtures DIR]``; prints ``PORT <n>`` on its first line.
Standard library only; bounded: each response is at most one recording long (times ``repeat``).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import socket
import struct
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, Optional, Tuple

DEFAULT_FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "providers"
MAX_REPEAT = 100_000
HOLD_SECONDS = 30.0


def _header(name: str, value: str) -> bytes:
    n, v = name.encode(), value.encode()
    return struct.pack(">B", len(n)) + n + b"\x07" + struct.pack(">H", len(v)) + v


def eventstream_message(headers: List[Tuple[str, str]], payload: bytes) -> bytes:
    """One AWS event-stream message (string headers), CRCs included."""
    hdr = b"".join(_header(k, v) for k, v in headers)
    total = 12 + len(hdr) + len(payload) + 4
    prelude = struct.pack(">II", total, len(hdr))
    prelude += struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    body = prelude + hdr + payload
    return body + struct.pack(">I", binascii.crc32(body) & 0xFFFFFFFF)


def _event(event_type: str, payload: bytes) -> bytes:
    return eventstream_message(
        [(":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")],
        payload,
    )


def _split_eventstream(data: bytes) -> List[bytes]:
    out, i = [], 0
    while i + 4 <= len(data):
        (n,) = struct.unpack(">I", data[i : i + 4])
        out.append(data[i : i + n])
        i += n
    return out


def _split_sse(data: bytes) -> List[bytes]:
    text = data.replace(b"\r\n", b"\n")
    parts = [p + b"\n\n" for p in text.split(b"\n\n") if p.strip()]
    return parts


class Recording:
    """The bytes of one answer, split into the pieces a provider would flush."""

    def __init__(self, content_type: str, pieces: List[bytes]) -> None:
        self.content_type = content_type
        self.pieces = pieces

    @property
    def streamed(self) -> bool:
        return self.content_type != "application/json"


def load(fixtures: Path, name: str) -> Recording:
    if name.startswith("invoke_stream="):
        src = (fixtures / name.split("=", 1)[1]).read_bytes()
        pieces = []
        for ev in _split_sse(src):
            for line in ev.split(b"\n"):
                if line.startswith(b"data:"):
                    data = line[5:].strip()
                    payload = json.dumps({"bytes": base64.b64encode(data).decode()}).encode()
                    pieces.append(_event("chunk", payload))
        return Recording("application/vnd.amazon.eventstream", pieces)
    path = fixtures / name
    if "/" in name or not path.is_file():
        raise FileNotFoundError(name)
    data = path.read_bytes()
    if name.endswith(".json"):
        return Recording("application/json", [data])
    if name.endswith(".sse"):
        return Recording("text/event-stream", _split_sse(data))
    if name.endswith(".eventstream"):
        return Recording("application/vnd.amazon.eventstream", _split_eventstream(data))
    if name.endswith(".jsonl"):
        lines = [ln for ln in data.splitlines() if ln.strip()]
        if name.startswith("bedrock_"):
            pieces = []
            for ln in lines:
                ((kind, value),) = json.loads(ln).items()
                pieces.append(_event(kind, json.dumps(value, separators=(",", ":")).encode()))
            return Recording("application/vnd.amazon.eventstream", pieces)
        if name.startswith("anthropic_"):
            pieces = [b"event: " + json.loads(ln)["type"].encode() + b"\ndata: " + ln + b"\n\n" for ln in lines]
            return Recording("text/event-stream", pieces)
        pieces = [b"data: " + ln + b"\n\n" for ln in lines] + [b"data: [DONE]\n\n"]
        return Recording("text/event-stream", pieces)
    raise FileNotFoundError(name)


def error_body(name: str, status: int) -> Tuple[bytes, Dict[str, str]]:
    """The provider's own error shape for ``status``."""
    msg = f"replayed error {status}"
    if name.startswith(("bedrock_", "invoke_stream=", "anthropic_bedrock")):
        kind = {400: "ValidationException", 403: "AccessDeniedException", 429: "ThrottlingException"}.get(
            status, "InternalServerException"
        )
        return json.dumps({"message": msg}).encode(), {"x-amzn-ErrorType": kind}
    if name.startswith("anthropic_"):
        kind = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error"}.get(
            status, "api_error"
        )
        return json.dumps({"type": "error", "error": {"type": kind, "message": msg}}).encode(), {}
    if name.startswith("gemini_"):
        st = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED"}.get(status, "INTERNAL")
        return json.dumps({"error": {"code": status, "message": msg, "status": st}}).encode(), {}
    kind = {400: "invalid_request_error", 429: "rate_limit_exceeded"}.get(status, "server_error")
    return json.dumps({"error": {"message": msg, "type": kind, "param": None, "code": None}}).encode(), {}


class State:
    def __init__(self, fixtures: Path) -> None:
        self.fixtures = fixtures
        self.lock = threading.Lock()
        self.counts: Dict[str, int] = {}
        self.failed: set = set()
        self.cache: Dict[str, Recording] = {}
        self.served = 0
        self.models: Dict[str, Optional[str]] = {}

    def recording(self, name: str) -> Recording:
        with self.lock:
            hit = self.cache.get(name)
        if hit is None:
            hit = load(self.fixtures, name)
            with self.lock:
                self.cache[name] = hit
        return hit


def _requested_model(path: str, body: bytes) -> Optional[str]:
    """The model a request asked for: the body's ``model``, else the path's (Bedrock
    ``/model/{id}/…``, Gemini ``models/{id}:…``). Only the name is kept."""
    try:
        model = json.loads(body).get("model") if body else None
    except (ValueError, AttributeError):
        model = None
    if model:
        return str(model)
    rest = urllib.parse.unquote(path.split("?", 1)[0])
    if "/model/" in rest:
        return rest.split("/model/", 1)[1].rsplit("/", 1)[0]
    if "/models/" in rest:
        return rest.split("/models/", 1)[1].split(":", 1)[0]
    return None


def parse_spec(spec: str) -> Tuple[str, Dict[str, str]]:
    parts = urllib.parse.unquote(spec).split(",")
    opts = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        opts[k] = v
    return parts[0], opts


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "replay"
    state: State

    def log_message(self, format: str, *args) -> None:  # quiet
        pass

    def _drain(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            return self.rfile.read(n)
        body = b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                body += self.rfile.read(size + 2)[:size]
                if size == 0:
                    break
        return body

    def _send_json(self, status: int, body: bytes, extra: Optional[Dict[str, str]] = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.startswith("/_count/"):
            tag = self.path[len("/_count/") :]
            with self.state.lock:
                n = self.state.counts.get(tag, 0)
                model = self.state.models.get(tag)
            self._send_json(200, json.dumps({"count": n, "model": model}).encode())
            return
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        try:
            self._serve_one()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (a test stopping early)

    def _serve_one(self) -> None:
        request_body = self._drain()
        path = self.path
        if not path.startswith("/r/"):
            self._send_json(404, b'{"error":{"message":"not a replay path"}}')
            return
        spec = path[3:].split("/", 1)[0].split("?", 1)[0]
        name, opts = parse_spec(spec)
        st = self.state
        if "tag" in opts:
            with st.lock:
                st.counts[opts["tag"]] = st.counts.get(opts["tag"], 0) + 1
                st.models[opts["tag"]] = _requested_model(path, request_body)
        try:
            rec = st.recording(name)
        except (FileNotFoundError, ValueError, KeyError) as e:
            self._send_json(404, json.dumps({"error": {"message": f"no recording {name}: {e}"}}).encode())
            return
        status = int(opts.get("status", "200"))
        if "failonce" in opts:
            with st.lock:
                first = opts["failonce"] not in st.failed
                st.failed.add(opts["failonce"])
            if first:
                status = 500
        with st.lock:
            st.served += 1
            n = st.served
        rid = {"x-request-id": f"req_replay_{n:08d}"}
        rid["x-amzn-RequestId"] = rid["x-request-id"]
        if status != 200:
            body, extra = error_body(name, status)
            extra.update(rid)
            self._send_json(status, body, extra)
            return
        pieces = rec.pieces
        repeat = min(int(opts.get("repeat", "1")), MAX_REPEAT)
        if repeat > 1 and rec.streamed:
            pieces = pieces[:1] + pieces[1:-1] * repeat + pieces[-1:]
        chunk = int(opts.get("chunk", "0"))
        if chunk > 0:
            data = b"".join(pieces)
            pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
        cut = int(opts["cut"]) if "cut" in opts else None
        hold = int(opts["hold"]) if "hold" in opts and rec.streamed else None
        self.send_response(200)
        self.send_header("Content-Type", rec.content_type)
        for k, v in rid.items():
            self.send_header(k, v)
        if not rec.streamed:
            body = pieces[0]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if cut is not None:
                self.wfile.write(body[:cut])
                self._drop()
                return
            self.wfile.write(body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent = 0
        for p in pieces:
            if hold is not None and sent + len(p) > hold:
                p = p[: hold - sent]
                if p:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(p), p))
                    self.wfile.flush()
                self._hold()
                return
            if cut is not None and sent + len(p) > cut:
                p = p[: cut - sent]
                if p:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(p), p))
                    self.wfile.flush()
                self._drop()
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(p), p))
            self.wfile.flush()
            sent += len(p)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _hold(self) -> None:
        """Sends nothing more until the client closes the connection (bounded), then drops it."""
        self.connection.settimeout(HOLD_SECONDS)
        try:
            while self.connection.recv(4096):
                pass
        except OSError:
            pass
        self._drop()

    def _drop(self) -> None:
        """Ends the connection abruptly (no final chunk, no complete body)."""
        self.wfile.flush()
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True


class Server(ThreadingHTTPServer):
    """Many clients at once (the concurrency tests open 32 connections in a burst)."""

    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def serve(port: int = 0, fixtures: Path = DEFAULT_FIXTURES) -> ThreadingHTTPServer:
    """Starts the server on 127.0.0.1 in a daemon thread; ``server.server_port`` is its port."""
    handler = type("BoundHandler", (Handler,), {"state": State(Path(fixtures))})
    httpd = Server(("127.0.0.1", port), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--fixtures", default=os.environ.get("TOLLGATE_FIXTURES", str(DEFAULT_FIXTURES)))
    args = ap.parse_args()
    handler = type("BoundHandler", (Handler,), {"state": State(Path(args.fixtures))})
    httpd = Server(("127.0.0.1", args.port), handler)
    print(f"PORT {httpd.server_port}", flush=True)
    # Stops when its parent closes stdin (the test process ended), so it never outlives a run.
    threading.Thread(target=lambda: (sys.stdin.read(), httpd.shutdown()), daemon=True).start()
    httpd.serve_forever()


if __name__ == "__main__":
    main()
