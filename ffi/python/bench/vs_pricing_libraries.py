"""Prices the same events with the Tollgate engine, LiteLLM (``cost_per_token``) and
genai-prices (``calc_price``) in one process; prints throughput, the ratios, and the totals.

    pip install litellm genai-prices        # the two libraries compared against
    python3 bench/vs_pricing_libraries.py [--events 20000] [--rows 1000000]

The events are plain input/output token counts on models whose prices all three agree on
(no cache, no tiers above 200k tokens, no service tier), so the totals must agree: the
engine's exact Decimal total equals genai-prices' exactly, and LiteLLM's float total within
1e-9 relative. The script exits non-zero if they do not.

Engine paths: ``Engine.price`` (one call per event), ``Engine.price_columns`` (whole
columns, one call), ``Engine.price_batch`` (PriceItem objects) and ``Engine.price_json``
(JSON in, JSON out) for reference. Times are the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Callable, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a source checkout
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import
warnings.filterwarnings("ignore")

import tollgate_engine as tg  # noqa: E402

# (engine provider, genai-prices provider, model): prices all three libraries agree on.
MODELS = [
    ("openai", "openai", "gpt-4o"),
    ("openai", "openai", "gpt-4o-mini"),
    ("openai", "openai", "gpt-4.1"),
    ("openai", "openai", "gpt-4.1-mini"),
    ("openai", "openai", "gpt-4.1-nano"),
    ("openai", "openai", "o3-mini"),
    ("openai", "openai", "gpt-5"),
    ("openai", "openai", "gpt-5-mini"),
    ("anthropic", "anthropic", "claude-sonnet-4-5"),
    ("anthropic", "anthropic", "claude-haiku-4-5"),
    ("gemini", "google", "gemini-2.5-flash"),
    ("gemini", "google", "gemini-2.5-pro"),
]


def events(n: int, seed: int = 20261207) -> List[Tuple[str, str, str, int, int]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        prov, gprov, model = MODELS[rng.randrange(len(MODELS))]
        out.append((prov, gprov, model, rng.randint(1, 50_000), rng.randint(1, 5_000)))
    return out


def best(repeat: int, fn: Callable[[], object]) -> Tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20_000, help="events every library prices")
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows for the engine's columnar run at scale")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import litellm
    from genai_prices import Usage, calc_price

    evs = events(args.events)
    n = len(evs)
    engine = tg.Engine()

    def engine_price() -> Decimal:
        price = engine.price
        total = Decimal(0)
        for prov, _, model, a, b in evs:
            total += price(prov, model, tokens_in=a, tokens_out=b).cost_cents
        return total

    providers = [e[0] for e in evs]
    models = [e[2] for e in evs]
    tin = [e[3] for e in evs]
    tout = [e[4] for e in evs]

    def engine_columns() -> Decimal:
        r = engine.price_columns(models, provider=providers, tokens_in=tin, tokens_out=tout)
        assert r.failed_count == 0 and r.priced_count == n and r.total_cents is not None
        return r.total_cents

    items = [tg.PriceItem(e[0], e[2], tokens_in=e[3], tokens_out=e[4]) for e in evs]

    def engine_batch() -> Decimal:
        total = Decimal(0)
        for i in range(0, n, tg.MAX_BATCH_ITEMS):
            for o in engine.price_batch(items[i:i + tg.MAX_BATCH_ITEMS]):
                total += o.cost_cents
        return total

    def engine_json() -> Decimal:
        total = Decimal(0)
        for prov, _, model, a, b in evs:
            total += Decimal(engine.price_json({"provider": prov, "model": model, "tokensIn": a, "tokensOut": b})["costCents"])
        return total

    def run_litellm() -> float:
        total = 0.0
        for _, _, model, a, b in evs:
            p, c = litellm.cost_per_token(model=model, prompt_tokens=a, completion_tokens=b)
            total += p + c
        return total * 100

    def run_genai() -> Decimal:
        total = Decimal(0)
        for _, gprov, model, a, b in evs:
            total += calc_price(Usage(input_tokens=a, output_tokens=b), model_ref=model, provider_id=gprov).total_price
        return total * 100

    results = {}
    for name, fn in [
        ("engine price_columns", engine_columns),
        ("engine price (one call per event)", engine_price),
        ("engine price_batch (PriceItem)", engine_batch),
        ("engine price_json", engine_json),
        ("litellm cost_per_token", run_litellm),
        ("genai-prices calc_price", run_genai),
    ]:
        fn()  # warm up (lazy loads, caches)
        results[name] = best(args.repeat, fn)

    # The engine at scale: the same events repeated to --rows rows.
    reps = max(1, args.rows // n)
    big = dict(provider=providers * reps, tokens_in=tin * reps, tokens_out=tout * reps)
    big_models = models * reps
    t_big, r_big = best(args.repeat, lambda: engine.price_columns(big_models, **big))

    # One call on its own: the best per-call time of timeit loops.
    import timeit

    one = min(timeit.repeat(lambda: engine.price("openai", "gpt-4o", tokens_in=1200, cached_tokens=800, tokens_out=350),
                            number=100_000, repeat=args.repeat)) / 100_000

    ll_rate = n / results["litellm cost_per_token"][0]
    gp_rate = n / results["genai-prices calc_price"][0]
    print(f"tollgate-engine {tg.__version__} (native extension: {tg.NATIVE}), litellm {litellm_version()}, "
          f"genai-prices {genai_version()}; {n:,} events; loadavg {loadavg()}")
    print(f"{'path':36} {'events/s':>12} {'us/event':>9} {'x litellm':>10} {'x genai':>9}  total cents")
    for name, (t, total) in results.items():
        rate = n / t
        print(f"{name:36} {rate:12,.0f} {t / n * 1e6:9.3f} {rate / ll_rate:10.1f} {rate / gp_rate:9.1f}  {total}")
    rate = len(big_models) / t_big
    print(f"{'engine price_columns, ' + format(len(big_models), ',') + ' rows':36} {rate:12,.0f} "
          f"{t_big / len(big_models) * 1e6:9.3f} {rate / ll_rate:10.1f} {rate / gp_rate:9.1f}  {r_big.total_cents}")

    print(f"one Engine.price call (timeit, best of {args.repeat} x 100,000): {one * 1e6:.3f} us")

    exact = results["engine price_columns"][1]
    ok = all(results[k][1] == exact for k in results if k.startswith("engine"))
    ok_gp = results["genai-prices calc_price"][1] == exact
    ll = Decimal(repr(results["litellm cost_per_token"][1]))
    ok_ll = abs(ll - exact) <= exact * Decimal("1e-9")
    ok_big = r_big.total_cents == exact * reps
    print(f"totals agree: engine paths {ok}; genai-prices exactly {ok_gp}; litellm within 1e-9 {ok_ll}; "
          f"{len(big_models):,} rows = {reps} x {n:,} {ok_big}")
    return 0 if ok and ok_gp and ok_ll and ok_big else 1


def litellm_version() -> str:
    from importlib.metadata import version

    return version("litellm")


def genai_version() -> str:
    from importlib.metadata import version

    return version("genai-prices")


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


if __name__ == "__main__":
    sys.exit(main())
