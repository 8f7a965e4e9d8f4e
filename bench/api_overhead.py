"""Per-request cost of the API's front door (security.Guard: credential, customer token, rate limits,
body-size check), measured as the same requests through the same app with and without it.

Not a test: run `.venv/bin/python bench/api_overhead.py [--requests 400]`; prints a table and writes
bench/results/api-overhead.json. In-process (Starlette TestClient), demo shop, scripted generator,
rounds interleaved so machine noise hits both sides alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import jwt
from fastapi.testclient import TestClient

from assistant.api.app import create_app
from assistant.api.security import Guard
from assistant.config import load_settings
from assistant.shop import Shop

KEY = "bench-storefront-key-0123456789"
SECRET = "bench-jwt-secret-of-32-bytes-long!!"


def _timed(client: TestClient, method: str, path: str, n: int, **kwargs: object) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.request(method, path, **kwargs)  # type: ignore[arg-type]
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.text
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400, help="requests per side and route, in 4 rounds")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="api-overhead-"))
    settings = load_settings(None).model_copy(update={"home": home})
    settings.generator = settings.generator.model_copy(update={"engine": "fake"})
    settings.api = settings.api.model_copy(
        update={
            "keys": [KEY],
            "jwt_secret": SECRET,
            "rate_limit": "1000000/minute",
            "rate_limit_per_address": "1000000/minute",
        }
    )
    shop = Shop(settings)
    shop.ensure_ready()
    guarded = create_app(shop)
    bare = create_app(shop)
    bare.user_middleware = [
        m for m in bare.user_middleware if m.cls is not Guard
    ]  # the same app minus the door
    now = int(time.time())
    token = jwt.encode({"sub": "C1001", "aud": "shopassist", "iat": now, "exp": now + 3600}, SECRET, "HS256")
    routes = {
        "POST /v1/search (API key)": (
            "POST",
            "/v1/search",
            {"json": {"query": "waterproof boots", "top_k": 4}},
            {"Authorization": f"Bearer {KEY}"},
        ),
        "POST /v1/search (customer token)": (
            "POST",
            "/v1/search",
            {"json": {"query": "waterproof boots", "top_k": 4}},
            {"Authorization": f"Bearer {token}"},
        ),
        "POST /v1/feedback (API key)": (
            "POST",
            "/v1/feedback",
            {"json": {"item_id": "r1", "verdict": "up"}},
            {"Authorization": f"Bearer {KEY}"},
        ),
    }
    rows = []
    with TestClient(guarded, client=("203.0.113.7", 1)) as g, TestClient(bare, client=("127.0.0.1", 1)) as b:
        for name, (method, path, kwargs, headers) in routes.items():
            with_door: list[float] = []
            without: list[float] = []
            _timed(g, method, path, 20, headers=headers, **kwargs)  # warm
            _timed(b, method, path, 20, **kwargs)
            for _ in range(4):
                with_door += _timed(g, method, path, args.requests // 4, headers=headers, **kwargs)
                without += _timed(b, method, path, args.requests // 4, **kwargs)
            p50_with, p50_without = statistics.median(with_door), statistics.median(without)
            rows.append(
                {
                    "route": name,
                    "p50_ms_without_guard": round(p50_without, 3),
                    "p50_ms_with_guard": round(p50_with, 3),
                    "overhead_ms": round(p50_with - p50_without, 3),
                    "ratio": round(p50_with / p50_without, 3),
                    "requests": len(with_door),
                }
            )
    cols = list(rows[0])
    print("  ".join(cols))
    for r in rows:
        print("  ".join(str(r[c]) for c in cols))
    out = Path(__file__).resolve().parent / "results" / "api-overhead.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
