"""`arb bench all`: every benchmark in sequence (child processes), one JSON summary line."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

QUICK = {
    "codec": [],
    "broker": ["--levels", "1000,100000", "--probes", "100"],
    "sign": ["--n", "2000"],
    "risk": ["--n", "100"],
    "sim": ["--seconds", "5"],
    "process": ["--ticks", "1000", "--rate", "100", "--burst", "5000", "--warmup", "2"],
    "throughput": ["--rates", "1000,1500,2000,3000", "--step-s", "4"],
    "chaos-executor-kill": ["--scenario", "executor-kill", "--signals", "60", "--kills", "5"],
    "chaos-venue-429-storm": ["--scenario", "venue-429-storm", "--signals", "60"],
    "chaos-venue-5xx-burst": ["--scenario", "venue-5xx-burst", "--signals", "60"],
    "chaos-venue-ambiguity": ["--scenario", "venue-ambiguity", "--signals", "60", "--kills", "2", "--games", "8", "--rate", "3"],
    "chaos-processor-kill": ["--scenario", "processor-kill", "--duration", "30", "--kills", "2"],
    "chaos-processor-rebalance": ["--scenario", "processor-rebalance", "--duration", "30", "--kills", "6"],
    "chaos-corrupt-records": ["--scenario", "corrupt-records", "--duration", "15"],
    "chaos-feed-disconnect": ["--scenario", "feed-disconnect", "--games", "6", "--kills", "2"],
    "chaos-feed-seq-gap": ["--scenario", "feed-seq-gap", "--games", "6", "--kills", "2"],
    "chaos-feed-silence": ["--scenario", "feed-silence", "--games", "6", "--kills", "2"],
    "chaos-malformed-frames": ["--scenario", "malformed-frames", "--games", "6", "--kills", "2"],
    "latency": ["--rate", "200", "--games", "10", "--duration", "30"],
    "recovery": ["--records", "20000"],
}
FULL = {**QUICK, "broker": [], "sim": [], "process": [], "throughput": [], "chaos-executor-kill": ["--scenario", "executor-kill"], "chaos-venue-429-storm": ["--scenario", "venue-429-storm"],
        "chaos-venue-5xx-burst": ["--scenario", "venue-5xx-burst"],
        "chaos-venue-ambiguity": ["--scenario", "venue-ambiguity"], "chaos-processor-kill": ["--scenario", "processor-kill"],
        "chaos-processor-rebalance": ["--scenario", "processor-rebalance"], "chaos-corrupt-records": ["--scenario", "corrupt-records"], "chaos-feed-disconnect": ["--scenario", "feed-disconnect"],
        "chaos-feed-seq-gap": ["--scenario", "feed-seq-gap"], "chaos-feed-silence": ["--scenario", "feed-silence"],
        "chaos-malformed-frames": ["--scenario", "malformed-frames"], "latency": [], "recovery": ["--records", "1000000"]}

ON_EXTERNAL_KAFKA = {"latency", "process", "throughput", "broker", "chaos", "recovery"}  # the benchmarks that take --bootstrap


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("all", help="run every benchmark and print one JSON summary",
                       description="Runs codec, broker, sign, risk, sim, process, throughput, the chaos scenarios and latency, each as `arb bench X --json` in "
                                   "a child process, and prints {name: result}. --full uses each benchmark's defaults (long).")
    p.add_argument("--full", action="store_true", help="each benchmark at its default (full) size")
    p.add_argument("--only", nargs="*", help="run only these (names as in the summary)")
    p.add_argument("--bootstrap", metavar="HOST:PORT",
                   help="run every benchmark that uses Kafka (broker, process, throughput, the chaos scenarios, recovery, latency) on this "
                        "Kafka (see their --bootstrap); codec, sign, risk and sim use none")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    plan = FULL if args.full else QUICK
    out: dict[str, Any] = {}
    for name, extra in plan.items():
        if args.only and name not in args.only:
            continue
        bench = name.split("-")[0]
        if args.bootstrap and bench in ON_EXTERNAL_KAFKA:
            extra = [*extra, "--bootstrap", args.bootstrap]
        t0 = time.monotonic()
        print(f"bench all: {name} ...", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, "-m", "cli", "bench", bench, *extra, "--json"], capture_output=True, text=True, timeout=3600)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode == 0 and lines:
            out[name] = json.loads(lines[-1])
        else:
            out[name] = {"error": f"exit {proc.returncode}", "stderr": proc.stderr[-500:]}
        out[name]["bench_seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))
    return 0 if all("error" not in v for v in out.values()) else 1
