"""`arb bench sign`: cost of building and signing one Polymarket CLOB V2 order, ours vs the official client."""

from __future__ import annotations

import argparse
import json
import time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sign", help="Polymarket order build + EIP-712 sign time (ours vs py_clob_client_v2)",
                       description="Times building and signing N orders with our signer (cached domain separator, pycryptodome "
                                   "keccak, coincurve) and, when installed, with the official py_clob_client_v2 builder.")
    p.add_argument("--n", type=int, default=2000, help="orders per measurement (default 2000)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import secrets

    from bench._stats import percentile
    from venues.polymarket import constants as C
    from venues.polymarket.eip712 import address_of
    from venues.polymarket.order import build_order
    from venues.polymarket.signing import sign_order

    key = secrets.token_bytes(32)
    addr = address_of(key)
    ours: list[float] = []
    for i in range(args.n):
        t0 = time.perf_counter()
        o = build_order(token_id=10**70 + i, side="BUY", price=5200, size=1000 + i, tick=100, maker=addr, signer=addr, signature_type=0,
                        salt=i, timestamp_ms=1_790_000_000_000 + i)
        sign_order(o, key, C.EXCHANGE, "2", C.POLYGON)
        ours.append((time.perf_counter() - t0) * 1e6)
    ours.sort()
    sdk_p50: float | None = None
    try:
        from py_clob_client_v2.clob_types import CreateOrderOptions, OrderArgsV2
        from py_clob_client_v2.order_builder.builder import OrderBuilder
        from py_clob_client_v2.signer import Signer

        ob = OrderBuilder(Signer("0x" + key.hex(), C.POLYGON))
        sdk: list[float] = []
        for i in range(min(args.n, 300)):
            t0 = time.perf_counter()
            ob.build_order(OrderArgsV2(token_id=str(10**70 + i), price=0.52, size=10 + i / 100, side="BUY"),
                           CreateOrderOptions(tick_size="0.01", neg_risk=False))
            sdk.append((time.perf_counter() - t0) * 1e6)
        sdk.sort()
        sdk_p50 = round(percentile(sdk, 50), 1)
    except ImportError:
        pass
    out = {"sign_us_p50": round(percentile(ours, 50), 1), "sign_us_p99": round(percentile(ours, 99), 1), "sdk_us_p50": sdk_p50, "n": args.n}
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))
    return 0
