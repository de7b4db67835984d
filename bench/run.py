"""Side-by-side speed of telemetry-simulator and its anchors, on this machine, in one go.

    python3 bench/run.py            # full run (about 3 minutes, 60 s of it paced)
    python3 bench/run.py --quick    # smaller counts, 10 s paced
    python3 bench/run.py --store    # the store: receiver vs rotel, report vs DuckDB over 10M spans
    python3 bench/run.py --verify   # verify over a 10M-span store: time and peak RSS

The same 7-span agent turn (`successful_agent_turn`) goes through:
  1. our engine to a null sink (--discard: generated and encoded, then dropped)
  2. our engine to the file sink (OTLP/JSON lines)
  3. our engine over OTLP/gRPC into rotel --exporter blackhole
  4. the OpenTelemetry Python SDK (TracerProvider + BatchSpanProcessor, the TaskPilot guide's method),
     with a no-op exporter and with the OTLP/gRPC exporter into the same rotel
  5. an encode-only loop over pre-built spans (the practical ceiling)
plus a paced run at 100k spans/s (achieved vs target) and the peak RSS of a 10M-span run
against a 1M-span one (memory flat). Prints spans/s, ratios and the targets of issue 5.
Needs: cargo, python3 with `opentelemetry-sdk`, `opentelemetry-exporter-otlp-proto-grpc`
and `rotel` (installed with pip when missing).
"""

import argparse
import re
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "telemetry-simulator"
SCENARIO = ["scenario", "--name", "successful_agent_turn"]


def pip_install(*pkgs):
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *pkgs], check=True)


def ensure_python_deps():
    try:
        import opentelemetry.sdk  # noqa: F401
        import opentelemetry.exporter.otlp.proto.grpc  # noqa: F401
    except ImportError:
        pip_install("opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-grpc")
    try:
        import rotel  # noqa: F401
    except ImportError:
        pip_install("rotel")


def rotel_binary():
    import rotel

    base = Path(rotel.__file__).parent
    for p in base.rglob("rotel-agent"):
        if p.is_file():
            return p
    raise SystemExit("rotel-agent not found in the rotel package")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def measure(cmd):
    """Runs cmd; returns (stdout, wall seconds)."""
    start = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stderr.decode()}")
    return p.stdout.decode(), time.perf_counter() - start


def measure_rusage(cmd):
    """Runs cmd and returns (wall seconds, CPU seconds, peak RSS MiB) of that process alone."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    err = p.stderr.read().decode()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{err}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


def sim(args, summary):
    """One simulator run; returns (summary dict, wall s, CPU s, RSS MiB)."""
    wall, cpu, rss = measure_rusage([str(BIN), "-q", "--summary-json", str(summary), *args])
    return json.loads(Path(summary).read_text()), wall, cpu, rss


def write_paper_rss():
    """RSS of span-end export over a paced run of minutes-long traces: it grows while the
    traces in flight grow, then stays flat (bounded by --reorder-budget)."""
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "telemetry-simulator"], cwd=ROOT, check=True)
    tmp = Path(tempfile.mkdtemp(prefix="tsim-bench-"))
    cmd = [str(BIN), "-q", "--discard", "--seed", "1", "--summary-json", str(tmp / "s.json"),
           "scenario", "--name", "write_paper", "--rate", "2k", "--duration", "10m"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    began = time.time()
    samples = []
    while p.poll() is None:
        try:
            rss = next(int(l.split()[1]) for l in open(f"/proc/{p.pid}/status") if l.startswith("VmRSS"))
            samples.append((time.time() - began, rss / 1024))
            print(f"{samples[-1][0]:6.0f} s  {samples[-1][1]:8.1f} MiB", flush=True)
        except (OSError, StopIteration):
            pass
        time.sleep(10)
    s = json.loads((tmp / "s.json").read_text())
    shutil.rmtree(tmp, ignore_errors=True)
    paced = [r for t, r in samples if 120 <= t <= 600]
    print(f"traces {s['traces']:,}, spans {s['spans']:,}, records {s['log_records']:,}; "
          f"ahead of time (budget): {s['ahead_of_time']['reorder_budget']:,}")
    if paced:
        print(f"RSS from 2 to 10 minutes: {min(paced):.0f}–{max(paced):.0f} MiB; peak {max(r for _, r in samples):.0f} MiB")


def dir_bytes(d):
    return sum(f.stat().st_size for f in Path(d).rglob("*.parquet"))


def store_bench(quick):
    """The store side by side in one run: OTLP/gRPC ingest into rotel --exporter blackhole and
    into our receiver (durable: synced log, then Parquet), the same sender and spans; then a
    store of 10M spans (a mixed run), `report summary` over it against DuckDB running the
    summary's SQL on the same files, and bytes per span on disk."""
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "telemetry-simulator"], cwd=ROOT, check=True)
    ensure_python_deps()
    try:
        import duckdb
    except ImportError:
        pip_install("duckdb")
        import duckdb
    tmp = Path(tempfile.mkdtemp(prefix="tsim-store-bench-"))
    traces = 100_000 if quick else 400_000
    send = ["--signals", "traces", "--seed", "1", "--endpoint", None, "--protocol", "grpc", *SCENARIO,
            "--count", str(traces), "--interval", "0"]
    rows = {}
    try:
        g, h = free_port(), free_port()
        rotel = subprocess.Popen(
            [str(rotel_binary()), "start", "--exporter", "blackhole", "--otlp-grpc-endpoint", f"127.0.0.1:{g}",
             "--otlp-http-endpoint", f"127.0.0.1:{h}", "--pid-file", str(tmp / "rotel.pid"),
             "--log-file", str(tmp / "rotel.log")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(g)
        send[5] = f"http://127.0.0.1:{g}"
        s, wall, _, _ = sim(send, tmp / "s.json")
        rotel.terminate()
        rotel.wait()
        rows["rotel, blackhole"] = {"spans": s["spans"], "spans_per_second": s["spans"] / s["elapsed_seconds"]}

        g, h = free_port(), free_port()
        recv = subprocess.Popen([str(BIN), "receive", "--store", str(tmp / "recv"), "--grpc-listen",
                                 f"127.0.0.1:{g}", "--http-listen", f"127.0.0.1:{h}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_port(g)
        send[5] = f"http://127.0.0.1:{g}"
        s, wall, _, _ = sim(send, tmp / "s.json")
        recv.send_signal(2)
        _, _, ru = os.wait4(recv.pid, 0)
        said = recv.stderr.read().decode()
        line = next(l for l in said.splitlines() if l.startswith("traces"))
        stored = int(line.split(", ")[1].split()[0])
        assert stored == s["spans"], said
        rows["receive, stored"] = {"spans": s["spans"], "spans_per_second": s["spans"] / s["elapsed_seconds"],
                                   "receiver_cpu_seconds": ru.ru_utime + ru.ru_stime,
                                   "bytes_per_span": dir_bytes(tmp / "recv" / "signal=traces") / stored}
        shutil.rmtree(tmp / "recv", ignore_errors=True)

        n = 130_000 if quick else 1_270_000  # a mixed run: ~7.9 spans per trace, ~10M spans
        print(f"building a store of {n:,} mixed traces…", flush=True)
        wall, cpu, rss = measure_rusage([str(BIN), "-q", "--store", str(tmp / "big"), "--seed", "1", "--start-time",
                                         "2026-11-01T00:00:00Z", "run", "--count", str(n), "--rate", "20"])
        con = duckdb.connect()
        spans = con.execute(f"SELECT count(*) FROM read_parquet('{tmp}/big/signal=traces/*/*/*.parquet')").fetchone()[0]
        build = {"traces": n, "spans": spans, "seconds": wall, "cpu_seconds": cpu, "rss_mib": rss,
                 "bytes_per_span": dir_bytes(tmp / "big" / "signal=traces") / spans,
                 "store_bytes": dir_bytes(tmp / "big")}
        _, ours = measure([str(BIN), "report", "summary", "--store", str(tmp / "big"), "--format", "json"])
        con.execute(f"SET VARIABLE store = '{tmp}/big'")
        sql = (ROOT / "sql" / "summary.sql").read_text()
        stmts = [x for x in sql.split(";") if any(l.strip() and not l.strip().startswith("--") for l in x.splitlines())]
        start = time.perf_counter()
        for st in stmts:
            con.execute(st).fetchall()
        theirs = time.perf_counter() - start
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    for label, r in rows.items():
        extra = "".join(f", {k} {v:,.2f}" for k, v in r.items() if k not in ("spans", "spans_per_second"))
        print(f"{label:<18} {r['spans_per_second']:>12,.0f} spans/s over OTLP/gRPC ({r['spans']:,} spans{extra})")
    ratio = rows["receive, stored"]["spans_per_second"] / rows["rotel, blackhole"]["spans_per_second"]
    print(f"receiver / rotel: {ratio:.2f}× (goal ≥ 1 while storing)")
    print(f"store of {build['spans']:,} spans: built in {build['seconds']:.0f} s ({build['cpu_seconds']:.0f} CPU s, "
          f"{build['rss_mib']:.0f} MiB RSS), {build['bytes_per_span']:.1f} bytes per span on disk, "
          f"{build['store_bytes'] / 1e6:,.0f} MB with logs and metrics")
    print(f"report summary: {ours:.2f} s; DuckDB, the same figures (sql/summary.sql): {theirs:.2f} s; "
          f"ratio {ours / theirs:.2f} (goals: < 5 s, ≤ 2×)")


def verify_bench(quick):
    """`verify` over a store of a run (the run's own --store: identical), against the goal of
    10M spans in under a minute with flat memory: its time and peak RSS, for a mixed run
    (spans, records and metric points) and for a run of spans alone, with the time the run
    itself takes to generate into the null sink (verify generates it again)."""
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "telemetry-simulator"], cwd=ROOT, check=True)
    n = 13_000 if quick else 1_270_000  # ~7.9 spans per trace: ~100k or ~10M spans
    for label, signals in [("mixed", []), ("spans only", ["--signals", "traces"])]:
        tmp = Path(tempfile.mkdtemp(prefix="tsim-verify-bench-"))
        common = signals + ["--seed", "1", "--start-time", "2026-11-01T00:00:00Z", "run", "--count", str(n),
                            "--rate", "20"]
        try:
            print(f"{label}: a run of {n:,} traces into a store, with its manifest…", flush=True)
            run_wall, _, run_rss = measure_rusage([str(BIN), "-q", "--store", str(tmp / "store"), "--manifest",
                                                   str(tmp / "run.json")] + common)
            gen_wall, _, _ = measure_rusage([str(BIN), "-q", "--discard"] + common)
            counts = json.loads((tmp / "run.json").read_text())["counts"]
            wall, cpu, rss = measure_rusage([str(BIN), "verify", "--manifest", str(tmp / "run.json"), "--store",
                                             str(tmp / "store"), "--format", "json"])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print(f"{label}: run into the store {run_wall:.0f} s ({run_rss:.0f} MiB RSS), into the null sink "
              f"{gen_wall:.0f} s; verify of {counts['spans']:,} spans, {counts['log_records']:,} records, "
              f"{counts['metric_points']:,} points: {wall:.0f} s ({cpu:.0f} CPU s, {rss:.0f} MiB RSS; goal for "
              f"10M spans: < 60 s, flat memory)", flush=True)


# Ten incidents active for the whole run over the agent turn's spans: latency, errors and
# tokens, matched by span name, by a templated name and by attribute values.
TEN_INCIDENTS = """incidents:
  - {name: i1, after: 0s, duration: 30d, spans: vendor.llm.call, latency: {multiply: 2}}
  - {name: i2, after: 0s, duration: 30d, spans: "vendor.mcp.*", error: {rate: 0.05}}
  - {name: i3, after: 0s, duration: 30d, attributes: {gen_ai.operation.name: chat}, tokens: {multiply: 3}}
  - {name: i4, after: 0s, duration: 30d, attributes: {gen_ai.request.model: gpt-4.1-mini}, latency: {add_ms: 5}}
  - {name: i5, after: 0s, duration: 30d, spans: vendor.planner, latency: {multiply: 1.5}}
  - {name: i6, after: 0s, duration: 30d, spans: vendor.response.compose, error: {rate: 0.01}}
  - {name: i7, after: 0s, duration: 30d, attributes: {gen_ai.tool.name: claims.getClaimStatus}, latency: {multiply: 1.2}}
  - {name: i8, after: 0s, duration: 30d, spans: "*.attempt", latency: {add_ms: 1}}
  - {name: i9, after: 0s, duration: 30d, spans: vendor.a2a.orchestrate, tokens: {multiply: 2}}
  - {name: i10, after: 0s, duration: 30d, spans: "no.such.span", latency: {multiply: 9}}
"""


def incidents_bench(quick):
    """The null sink with ten incidents active against none, alternating runs (the machine is
    noisy): the median spans/s of each and their ratio."""
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "telemetry-simulator"], cwd=ROOT, check=True)
    traces = 200_000 if quick else 1_000_000
    tmp = Path(tempfile.mkdtemp(prefix="tsim-incidents-bench-"))
    try:
        (tmp / "ten.yaml").write_text(TEN_INCIDENTS)
        # The same matches with effects that change nothing: the cost of matching alone.
        neutral = re.sub(r"(latency|error|tokens): \{[^}]*\}", "latency: {multiply: 1}", TEN_INCIDENTS)
        (tmp / "neutral.yaml").write_text(neutral)
        base = ["--signals", "traces", "--seed", "1", "--discard", "--start-time", "2026-11-01T00:00:00Z"]
        cases = [("none", []), ("ten incidents", ["--incidents", str(tmp / "ten.yaml")]),
                 ("ten neutral incidents", ["--incidents", str(tmp / "neutral.yaml")])]
        rates = {label: [] for label, _ in cases}
        errors = {}
        for _ in range(3 if quick else 5):
            for label, extra in cases:
                s, wall, _, _ = sim(base + extra + SCENARIO + ["--count", str(traces), "--interval", "0"], tmp / "s.json")
                rates[label].append(s["spans"] / s["elapsed_seconds"])
                errors[label] = s["error_spans"]
        med = {k: sorted(v)[len(v) // 2] for k, v in rates.items()}
        for label, _ in cases:
            print(f"null sink, {traces:,} traces, {label}: {med[label] / 1e6:.2f} M spans/s "
                  f"({med[label] / med['none'] * 100:.0f} % of none; {errors[label]:,} error spans; median of "
                  f"{len(rates[label])} alternating runs)", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller runs (a smoke test of the harness)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--write-paper-rss", action="store_true",
                    help="only: RSS every 10 s of a paced 10-minute run of write_paper at 2,000 traces/s into the "
                         "null sink (about 20 minutes: the run waits for the last traces to end)")
    ap.add_argument("--store", action="store_true",
                    help="only: the store side by side (receiver vs rotel over OTLP/gRPC, report summary over 10M "
                         "spans vs DuckDB, bytes per span); about 10 minutes, 2 with --quick")
    ap.add_argument("--verify", action="store_true",
                    help="only: verify over a 10M-span store (100k with --quick): its time and peak RSS")
    ap.add_argument("--incidents", action="store_true",
                    help="only the null sink with ten incidents active against none")
    ap.add_argument("--bin", type=Path, help="measure this build instead of target/release (e.g. an older commit's, for a before/after)")
    a = ap.parse_args()
    global BIN
    if a.bin:
        BIN = a.bin.resolve()

    if a.write_paper_rss:
        return write_paper_rss()
    if a.store:
        return store_bench(a.quick)
    if a.verify:
        return verify_bench(a.quick)
    if a.incidents:
        return incidents_bench(a.quick)

    traces = 200_000 if a.quick else 1_000_000
    py_traces = 5_000 if a.quick else 20_000
    paced_s = 10 if a.quick else 60
    big = 1_428_572  # 10,000,004 spans

    print("building (release)…", flush=True)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "telemetry-simulator"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "tsim-engine", "--example", "encode_ceiling"],
                   cwd=ROOT, check=True)
    ensure_python_deps()

    tmp = Path(tempfile.mkdtemp(prefix="tsim-bench-"))
    grpc_port, http_port = free_port(), free_port()
    rotel = subprocess.Popen(
        [str(rotel_binary()), "start", "--exporter", "blackhole",
         "--otlp-grpc-endpoint", f"127.0.0.1:{grpc_port}", "--otlp-http-endpoint", f"127.0.0.1:{http_port}",
         "--pid-file", str(tmp / "rotel.pid"), "--log-file", str(tmp / "rotel.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = {}
    try:
        wait_port(grpc_port)
        count = ["--count", str(traces), "--interval", "0"]
        base = ["--signals", "traces", "--seed", "1"]

        def ours(label, extra, how_many=count):
            s, wall, cpu, rss = sim(base + extra + SCENARIO + how_many, tmp / "s.json")
            assert all(k["generated"] == k["delivered"] for k in s["sinks"]), s["sinks"]
            rows[label] = {"spans": s["spans"], "seconds": s["elapsed_seconds"],
                           "spans_per_second": s["spans"] / s["elapsed_seconds"], "cpu_seconds": cpu,
                           "rss_mib": rss}

        print("1/5 null sink (whole traces: --interval 0), then in span-end order (a backfill at 1,000 traces/s)",
              flush=True)
        ours("null sink", ["--discard"])
        ours("null sink, span-end", ["--discard", "--start-time", "2020-01-01T00:00:00Z"],
             ["--count", str(traces), "--rate", "1000"])
        print("2/5 file sink", flush=True)
        ours("file sink", ["--output", str(tmp / "out")])
        shutil.rmtree(tmp / "out", ignore_errors=True)
        print("3/5 OTLP/gRPC into rotel", flush=True)
        ours("gRPC into rotel", ["--endpoint", f"http://127.0.0.1:{grpc_port}", "--protocol", "grpc"])

        print("4/5 Python SDK (no-op exporter, then OTLP/gRPC into rotel)", flush=True)
        for exporter, label in [("noop", "Python SDK, no-op"), ("grpc", "Python SDK, gRPC")]:
            out, _ = measure([sys.executable, str(ROOT / "bench" / "python_sdk.py"), "--exporter", exporter,
                              "--endpoint", f"http://127.0.0.1:{grpc_port}", "--traces", str(py_traces)])
            r = json.loads(out.strip().splitlines()[-1])
            rows[label] = {"spans": r["spans"], "seconds": r["seconds"], "spans_per_second": r["spans_per_second"]}

        print("5/5 encode-only ceiling", flush=True)
        out, _ = measure([str(ROOT / "target" / "release" / "examples" / "encode_ceiling"), "2" if a.quick else "5"])
        r = json.loads(out)
        rows["encode only"] = {"spans": r["spans"], "seconds": r["seconds"],
                               "spans_per_second": r["spans_per_second"]}

        print(f"paced: 100k spans/s for {paced_s} s", flush=True)
        s, _, _, _ = sim(base + ["--discard"] + SCENARIO + ["--rate", "100k spans/s", "--duration", f"{paced_s}s"],
                         tmp / "p.json")
        paced = s["rate"]
        print("memory: 1M spans, then 10M spans (file sink)", flush=True)
        mem = {}
        for n, label in [(142_858, "1M spans"), (big, "10M spans")]:
            _, _, _, rss = sim(base + ["--output", str(tmp / "mem")] + SCENARIO + ["--count", str(n), "--interval", "0"],
                               tmp / "m.json")
            mem[label] = rss
            shutil.rmtree(tmp / "mem", ignore_errors=True)
    finally:
        rotel.terminate()
        rotel.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    sdk = rows["Python SDK, no-op"]["spans_per_second"]
    sdk_grpc = rows["Python SDK, gRPC"]["spans_per_second"]
    ceiling = rows["encode only"]["spans_per_second"]
    print()
    print(f"{'stage':<22} {'spans/s':>12} {'× SDK no-op':>12} {'of ceiling':>11} {'CPU s':>7} {'RSS MiB':>8}")
    for label, r in rows.items():
        cpu = f"{r['cpu_seconds']:.2f}" if "cpu_seconds" in r else "-"
        rss = f"{r['rss_mib']:.1f}" if "rss_mib" in r else "-"
        print(f"{label:<22} {r['spans_per_second']:>12,.0f} {r['spans_per_second'] / sdk:>11.1f}× "
              f"{r['spans_per_second'] / ceiling:>10.1%} {cpu:>7} {rss:>8}")
    null = rows["null sink"]
    per_core = null["spans"] / null["cpu_seconds"]
    end = rows["null sink, span-end"]
    print(f"span-end order: {end['cpu_seconds'] / null['cpu_seconds']:.2f} × the CPU seconds of whole traces "
          f"(target: within 1.10)")
    grpc = rows["gRPC into rotel"]["spans_per_second"]
    err = (paced["achieved_spans_per_second"] / paced["target_spans_per_second"] - 1) * 100
    print()
    print(f"paced: target {paced['target_spans_per_second']:,.0f} spans/s, "
          f"achieved {paced['achieved_spans_per_second']:,.0f} ({err:+.2f} %)")
    print(f"memory: peak RSS {mem['1M spans']:.1f} MiB at 1M spans, {mem['10M spans']:.1f} MiB at 10M spans")
    print()
    checks = [
        ("null sink ≥ 3M spans/s per CPU-second", per_core >= 3e6, f"{per_core:,.0f}"),
        ("null sink ≥ 30 % of the encode-only ceiling", null["spans_per_second"] >= 0.3 * ceiling,
         f"{null['spans_per_second'] / ceiling:.1%}"),
        ("null sink ≥ 100× the Python SDK (no-op)", null["spans_per_second"] >= 100 * sdk,
         f"{null['spans_per_second'] / sdk:.0f}×"),
        ("gRPC into rotel ≥ 500k spans/s", grpc >= 5e5, f"{grpc:,.0f}"),
        ("gRPC ≥ 30× the Python SDK over gRPC", grpc >= 30 * sdk_grpc, f"{grpc / sdk_grpc:.0f}×"),
        ("paced 100k spans/s within ±1 %", abs(err) <= 1.0, f"{err:+.2f} %"),
        ("10M-span run under 64 MiB RSS", mem["10M spans"] < 64, f"{mem['10M spans']:.1f} MiB"),
        ("memory flat (10M vs 1M spans within 25 %)", mem["10M spans"] <= 1.25 * mem["1M spans"],
         f"{mem['10M spans'] / mem['1M spans']:.2f}×"),
    ]
    for name, ok, got in checks:
        print(f"{'MET ' if ok else 'MISS'}  {name}: {got}")
    if a.json:
        a.json.write_text(json.dumps({"rows": rows, "paced": paced, "memory_mib": mem,
                                      "checks": {n: {"met": ok, "value": g} for n, ok, g in checks}}, indent=2))


if __name__ == "__main__":
    main()
