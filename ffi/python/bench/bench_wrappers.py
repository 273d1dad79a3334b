"""Tracking overhead of the SDK wrappers: the wrapped call against the unwrapped call.

Two settings, both with the real openai SDK:

* ``replay``: over HTTP to the replay server on 127.0.0.1 (end to end; the loopback round
  trip is ~1 ms and noisy on a loaded machine, so the difference is a rough figure);
* ``memory``: the same recorded bytes served by an in-memory httpx2 transport, which takes the
  network out and leaves the difference that tracking makes (the precise figure).

Per non-stream call: ``openai_chat_1.json`` through ``chat.completions.create``. Per stream
chunk: ``openai_chat_stream_1.sse`` with its content events repeated 2,000 times, iterated
as raw bytes (the SDK's own event parsing is the same wrapped or not), divided by the number
of chunks the tap saw.

Per non-stream call the rounds of the unwrapped and the wrapped client alternate and the
figure is the median of the per-round differences (a load change between two separate runs
would otherwise be counted as overhead); ``inside send`` is the same difference taken over
the CPU time inside the SDK's HTTP ``send`` only, the one part of a call the wrapper changes
(the SDK's own ~1 ms of request building and response parsing is identical wrapped or not and
only adds noise). The first line says whether the native extension ``_fast`` is loaded (an
installed wheel has it; a source checkout runs the ctypes path unless it was built).

Run: ``python3 ffi/python/bench/bench_wrappers.py`` (prints one line per figure).
"""

import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[1] / "replay"))

import httpx2  # noqa: E402
import openai  # noqa: E402
import server as replay  # noqa: E402

import tollgate_engine as tg  # noqa: E402
from tollgate_engine.wrappers import wrap_openai  # noqa: E402

FIX = HERE.parents[3] / "shared" / "fixtures" / "providers"
MSG = [{"role": "user", "content": "hi"}]


def per_call(fn, n, rounds=7):
    """Median over rounds of the mean CPU time of the calling thread per call, in µs. CPU
    time, not wall time: on a loaded machine wall time counts the time others ran."""
    out = []
    for _ in range(rounds):
        t = time.thread_time()
        for _ in range(n):
            fn()
        out.append((time.thread_time() - t) / n * 1e6)
    return statistics.median(out)


def paired(fa, fb, n, rounds=15):
    """Rounds of ``fa`` and ``fb`` alternated (so a change in the machine's load hits both
    alike): the median CPU µs per call of each and the median of the per-round differences
    ``fb - fa``."""
    a, b = [], []
    for r in range(rounds):
        for fn, out in ((fa, a), (fb, b)) if r % 2 == 0 else ((fb, b), (fa, a)):
            t = time.thread_time()
            for _ in range(n):
                fn()
            out.append((time.thread_time() - t) / n * 1e6)
    return statistics.median(a), statistics.median(b), statistics.median(y - x for x, y in zip(a, b))


class SendClock:
    """CPU time spent inside an SDK client's HTTP ``send`` (the only part of a call the
    wrapper changes: the SDK's request building and response parsing run the same code
    wrapped or not), set on the instance so both clients pay the same for the clock."""

    def __init__(self, client):
        self.total = 0.0
        self.calls = 0
        inner = client._client.send

        def send(*args, **kw):
            t = time.thread_time()
            try:
                return inner(*args, **kw)
            finally:
                self.total += time.thread_time() - t
                self.calls += 1

        client._client.send = send

    def take(self):
        v = self.total / max(self.calls, 1) * 1e6
        self.total, self.calls = 0.0, 0
        return v


def send_overhead(raw, wrapped, call, n, rounds=15):
    """Median µs inside ``send`` per call, unwrapped and wrapped, alternated per round, and
    the median per-round difference."""
    cr, cw = SendClock(raw), SendClock(wrapped)
    a, b = [], []
    for r in range(rounds):
        for c, clock, out in ((raw, cr, a), (wrapped, cw, b)) if r % 2 == 0 else ((wrapped, cw, b), (raw, cr, a)):
            clock.take()
            for _ in range(n):
                call(c)
            out.append(clock.take())
    return statistics.median(a), statistics.median(b), statistics.median(y - x for x, y in zip(a, b))


def memory_client(recording_bytes, content_type, pieces=None):
    def handler(request):
        if pieces is None:
            return httpx2.Response(200, headers={"content-type": content_type, "x-request-id": "req_1"}, content=recording_bytes)
        return httpx2.Response(200, headers={"content-type": content_type, "x-request-id": "req_1"}, stream=httpx2.ByteStream(b"".join(pieces)) if False else _Chunks(pieces))

    class _Chunks(httpx2.SyncByteStream):
        def __init__(self, p):
            self.p = p

        def __iter__(self):
            return iter(self.p)

    return openai.OpenAI(api_key="sk", base_url="http://memory/v1", max_retries=0,
                         http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))


def main():
    from tollgate_engine._native import native

    print(f"native extension: {'loaded' if native is not None else 'not built (ctypes path)'}; library {tg.LIBRARY_PATH}")
    eng = tg.Engine()
    body = (FIX / "openai_chat_1.json").read_bytes()
    stream_rec = replay.load(FIX, "openai_chat_stream_1.sse")
    pieces = stream_rec.pieces[:1] + stream_rec.pieces[1:-1] * 2000 + stream_rec.pieces[-1:]
    n_chunks = len(pieces)

    # ---- in memory
    raw = memory_client(body, "application/json")
    wrapped = wrap_openai(raw, eng, customer_id="bench")
    call = lambda c: c.chat.completions.create(model="m", messages=MSG)  # noqa: E731
    for c in (raw, wrapped):
        per_call(lambda: call(c), 200, 1)
    u, w, d = paired(lambda: call(raw), lambda: call(wrapped), 500)
    print(f"memory  non-stream call: unwrapped {u:8.1f} µs  wrapped {w:8.1f} µs  overhead {d:6.1f} µs/call")
    u, w, d = send_overhead(memory_client(body, "application/json"),
                            wrap_openai(memory_client(body, "application/json"), eng, customer_id="bench"), call, 500)
    print(f"memory  inside send:     unwrapped {u:8.1f} µs  wrapped {w:8.1f} µs  overhead {d:6.1f} µs/call")

    raw_s = memory_client(None, "text/event-stream", pieces)
    wrapped_s = wrap_openai(raw_s, eng, customer_id="bench")

    def stream(c):
        with c.chat.completions.with_streaming_response.create(model="m", messages=MSG, stream=True) as r:
            for _ in r.iter_bytes():
                pass

    u = per_call(lambda: stream(raw_s), 5)
    w = per_call(lambda: stream(wrapped_s), 5)
    print(f"memory  stream of {n_chunks} chunks: unwrapped {u / 1000:8.2f} ms  wrapped {w / 1000:8.2f} ms  overhead {(w - u) / n_chunks:6.3f} µs/chunk")

    # ---- over HTTP to the replay server (its own process, so the client thread's CPU time
    # holds the SDK, the HTTP client and the tracking only)
    import subprocess

    srv = subprocess.Popen([sys.executable, str(HERE.parents[1] / "replay" / "server.py"), "--fixtures", str(FIX)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = int(srv.stdout.readline().split()[1])
    base = f"http://127.0.0.1:{port}/r"
    raw = openai.OpenAI(api_key="sk", base_url=f"{base}/openai_chat_1.json/v1", max_retries=0)
    wrapped = wrap_openai(raw, eng, customer_id="bench")
    for c in (raw, wrapped):
        per_call(lambda: call(c), 50, 1)
    u, w, d = paired(lambda: call(raw), lambda: call(wrapped), 200)
    print(f"replay  non-stream call: unwrapped {u:8.1f} µs  wrapped {w:8.1f} µs  overhead {d:6.1f} µs/call")
    raw_s = openai.OpenAI(api_key="sk", base_url=f"{base}/openai_chat_stream_1.sse,repeat=2000/v1", max_retries=0)
    wrapped_s = wrap_openai(raw_s, eng, customer_id="bench")
    u = per_call(lambda: stream(raw_s), 5)
    w = per_call(lambda: stream(wrapped_s), 5)
    print(f"replay  stream of {n_chunks} chunks: unwrapped {u / 1000:8.2f} ms  wrapped {w / 1000:8.2f} ms  overhead {(w - u) / n_chunks:6.3f} µs/chunk")
    srv.stdin.close()
    srv.wait(timeout=10)


if __name__ == "__main__":
    main()
