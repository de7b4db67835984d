"""Checks a store and the reports over it, independently of the simulator's Rust code.

usage: check_reports.py OUTPUT_DIR STORE REPORTS_DIR

- OUTPUT_DIR: a run's output folder (traces.jsonl: OTLP/JSON lines, read here with json).
- STORE: the store the run was imported into (read here with DuckDB, another engine).
- REPORTS_DIR: summary.json, slow.json, error_rate.json, agent.json (and agent.txt holding the
  agent's name), flows.json, errors.json, cost.json, activity.json, artifacts.json, trace.json —
  the reports' --format json output.

Checks that the store holds exactly the spans of traces.jsonl (ids, names, services, times,
status, promoted agent and error type; their events and links) and the exemplars of
metrics.jsonl, that the shipped sql/*.sql queries run on it, and that
every figure of the reports equals what DuckDB computes (counts exactly, means to 1e-9, p95
within the sketch's 1 % of the exact value at the same rank). Prints a JSON report with the
mismatches found (none when all is well).
"""
import json
import math
import sys
from pathlib import Path

import duckdb

out_dir, store, reports = (Path(a) for a in sys.argv[1:4])
ROOT = Path(__file__).resolve().parents[2]
AGENT_KEYS = ["gen_ai.agent.name", "agent_name", "agent.name"]
ERROR_KEYS = ["error.type", "error_type", "error.code", "error_code"]
mismatches = []


def value(v):
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return str(int(v["intValue"]))
    if "boolValue" in v:
        return "true" if v["boolValue"] else "false"
    if "doubleValue" in v:
        return repr(float(v["doubleValue"]))
    return json.dumps(v)


def first(attrs, keys):
    for k in keys:
        if k in attrs:
            return attrs[k]
    return None


# The spans as sent, and their events (span id, name, time, attributes) and links.
sent, sent_events, sent_links = set(), [], 0
for line in open(out_dir / "traces.jsonl"):
    for rs in json.loads(line)["resourceSpans"]:
        res = {a["key"]: value(a["value"]) for a in rs["resource"].get("attributes", [])}
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                attrs = {a["key"]: value(a["value"]) for a in s.get("attributes", [])}
                code = {0: "Unset", 1: "Ok", 2: "Error"}[int(s.get("status", {}).get("code", 0))]
                start, end = int(s["startTimeUnixNano"]), int(s["endTimeUnixNano"])
                sent.add((s["traceId"], s["spanId"], s.get("parentSpanId", ""), s["name"], res.get("service.name", ""),
                          start, end - start, code, first(attrs, AGENT_KEYS), first(attrs, ERROR_KEYS)))
                sent_events += [(s["spanId"], e["name"], int(e["timeUnixNano"]), len(e.get("attributes", [])))
                                for e in s.get("events", [])]
                sent_links += len(s.get("links", []))
# The histogram points' exemplars as sent: (metric, time, values, span ids).
sent_exemplars = []
for line in open(out_dir / "metrics.jsonl"):
    for rm in json.loads(line)["resourceMetrics"]:
        for sm in rm["scopeMetrics"]:
            for m in sm["metrics"]:
                for p in m.get("histogram", {}).get("dataPoints", []):
                    ex = p.get("exemplars", [])
                    if ex:
                        sent_exemplars.append((m["name"], int(p["timeUnixNano"]), [float(e["asDouble"]) for e in ex],
                                               [e["spanId"] for e in ex]))

con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(f"SET VARIABLE store = '{store}'")
spans = f"read_parquet('{store}/signal=traces/*/*/*.parquet', hive_partitioning = true)"
stored = set(con.execute(
    f"SELECT TraceId, SpanId, ParentSpanId, SpanName, ServiceName, epoch_ns(Timestamp), Duration, StatusCode, "
    f"AgentName, ErrorType FROM {spans}").fetchall())
if stored != sent:
    mismatches.append({"what": "stored spans", "sent": len(sent), "stored": len(stored),
                       "only_sent": [list(x) for x in sorted(sent - stored)[:3]],
                       "only_stored": [list(x) for x in sorted(stored - sent)[:3]]})
stored_events = con.execute(
    f'SELECT SpanId, n, epoch_ns(t), cardinality(a) FROM (SELECT SpanId, unnest("Events.Name") AS n, '
    f'unnest("Events.Timestamp") AS t, unnest("Events.Attributes") AS a FROM {spans})').fetchall()
if sorted(stored_events) != sorted(sent_events) or not sent_events:
    mismatches.append({"what": "stored events", "sent": len(sent_events), "stored": len(stored_events)})
stored_links = con.execute(f'SELECT coalesce(sum(len("Links.TraceId")), 0) FROM {spans}').fetchone()[0]
if stored_links != sent_links:
    mismatches.append({"what": "stored links", "sent": sent_links, "stored": stored_links})
points = f"read_parquet('{store}/signal=metrics/*/*/*.parquet', hive_partitioning = true)"
stored_exemplars = [(n, t, list(v), list(s)) for n, t, v, s in con.execute(
    f'SELECT MetricName, epoch_ns(TimeUnix), "Exemplars.Value", "Exemplars.SpanId" FROM {points} '
    f'WHERE len("Exemplars.Value") > 0').fetchall()]
if sorted(stored_exemplars) != sorted(sent_exemplars) or not sent_exemplars:
    mismatches.append({"what": "stored exemplars", "sent": len(sent_exemplars), "stored": len(stored_exemplars)})
# Hive partitions agree with the times they hold.
bad = con.execute(f"SELECT count(*) FROM {spans} WHERE strftime(Timestamp, '%Y-%m-%d') <> CAST(date AS VARCHAR) "
                  f"OR hour(Timestamp) <> hour").fetchone()[0]
if bad:
    mismatches.append({"what": "spans outside their partition", "count": bad})


def sql(name):
    """The statements of a shipped .sql file, each one's rows."""
    text = (ROOT / "sql" / f"{name}.sql").read_text()
    stmts = [s for s in text.split(";") if any(l.strip() and not l.strip().startswith("--") for l in s.splitlines())]
    return [con.execute(s).fetchall() for s in stmts]


def close(a, b, rel=1e-9):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-12)


def rank_value(values, q):
    """The exact value at the rank a DDSketch reports for quantile q."""
    v = sorted(values)
    return v[int(q * (len(v) - 1))] / 1e9


def check(what, ok, **detail):
    if not ok:
        mismatches.append({"what": what, **detail})


# The daily summary.
summary = json.loads((reports / "summary.json").read_text())["dailySummary"]
_, overview, by_agent, errors, _, artifacts = sql("summary")
runs, success, avg, workflows = overview[0]
o = summary["overview"]
check("totalRuns", o["totalRuns"] == runs, ours=o["totalRuns"], duckdb=runs)
check("successRate", close(o["successRate"], success), ours=o["successRate"], duckdb=success)
check("averageDuration", close(o["averageDuration"], avg), ours=o["averageDuration"], duckdb=avg)
check("activeWorkflows", o["activeWorkflows"] == workflows, ours=o["activeWorkflows"], duckdb=workflows)
durations = {}
for agent, d in con.execute(f"SELECT AgentName, Duration FROM {spans} WHERE AgentName IS NOT NULL").fetchall():
    durations.setdefault(agent, []).append(d)
check("byAgent agents", [a["agent"] for a in summary["byAgent"]] == [r[0] for r in by_agent],
      ours=[a["agent"] for a in summary["byAgent"]], duckdb=[r[0] for r in by_agent])
for a, (agent, n, rate, mean, _p95) in zip(summary["byAgent"], by_agent):
    check(f"{agent} runs", a["runs"] == n, ours=a["runs"], duckdb=n)
    check(f"{agent} successRate", close(a["successRate"], rate), ours=a["successRate"], duckdb=rate)
    check(f"{agent} avgDuration", close(a["avgDuration"], mean), ours=a["avgDuration"], duckdb=mean)
    exact = rank_value(durations[agent], 0.95)
    check(f"{agent} p95Duration", close(a["p95Duration"], exact, 0.01), ours=a["p95Duration"], exact=exact)
check("errors total", summary["errors"]["total"] == sum(n for _, n in errors))
n_error_spans = con.execute(f"SELECT count(*) FROM {spans} WHERE StatusCode = 'Error'").fetchone()[0]
check("error spans", summary["errors"]["errorSpans"] == n_error_spans, ours=summary["errors"]["errorSpans"],
      duckdb=n_error_spans)
check("errors byType", [[e["type"], e["count"]] for e in summary["errors"]["byType"]] == [list(r) for r in errors],
      ours=summary["errors"]["byType"], duckdb=errors)

created, pending, approved, rejected = artifacts[0]
ours = summary["artifacts"]
check("artifacts", [ours["created"], ours["pendingReview"], ours["approved"], ours["rejected"]] ==
      [created, pending, approved, rejected], ours=ours, duckdb=artifacts[0])
check("artifacts were written", created > 0, created=created)

# Artifact history: the shipped query's rows, newest first, for the sections' pattern.
history = json.loads((reports / "artifacts.json").read_text())
con.execute(f"SET VARIABLE artifact = '{history['pattern']}'")
(rows,) = sql("artifact_history")
check("artifact diffs", history["diffs"] == len(rows), ours=history["diffs"], duckdb=len(rows))
ours = [(d["artifact"]["path"], int(d["changes"]["previousVersion"].rsplit(".v", 1)[1]), d["agentId"],
         d["diff"]["addedLines"], d["diff"]["removedLines"], ", ".join(d["diff"]["changedSections"]),
         d["review"]["status"], d["runId"], d["traceId"]) for d in history["history"]]
theirs = [tuple(r[1:]) for r in rows[:len(ours)]]
check("artifact history", ours == theirs, ours=ours[:3], duckdb=theirs[:3])
pend = con.execute(f"SELECT count(*) FROM {spans.replace('traces', 'logs')} WHERE map_contains(LogAttributes, 'artifact.path') "
                   f"AND coalesce(LogAttributes['artifact.review.status'], 'pending') = 'pending'").fetchone()[0]
act = json.loads((reports / "activity.json").read_text())
check("pending review", act["pendingReview"] == pend, ours=act["pendingReview"], duckdb=pend)

# Slow operations.
slow = json.loads((reports / "slow.json").read_text())["operations"]
(rows,) = sql("slow_operations")
check("slow operations", [(s["agent"], s["operation"], s["count"]) for s in slow] == [(r[0], r[1], r[4]) for r in rows],
      ours=[(s["agent"], s["operation"], s["count"]) for s in slow][:5], duckdb=[(r[0], r[1], r[4]) for r in rows][:5])
for s, r in zip(slow, rows):
    check("slow avg", close(s["avgDuration"], r[2]), ours=s, duckdb=list(r))
    check("slow max", close(s["maxDuration"], r[3]), ours=s, duckdb=list(r))

# Error rate per 5 minutes above 5 %.
windows = json.loads((reports / "error_rate.json").read_text())["windows"]
(rows,) = sql("error_rate")
ours = [(w["window"][:19], w["service"], w["spans"], w["errors"]) for w in windows]
theirs = [(r[0].strftime("%Y-%m-%dT%H:%M:%S"), r[1], r[2], r[3]) for r in rows]
check("error-rate windows", ours == theirs, ours=ours[:5], duckdb=theirs[:5])
for w, r in zip(windows, rows):
    check("error rate", close(w["errorRate"], r[4]), ours=w, duckdb=r[4])

# One agent.
agent = (reports / "agent.txt").read_text().strip()
a = json.loads((reports / "agent.json").read_text())
d = durations.get(agent, [])
check("agent runs", a["runs"] == len(d), ours=a["runs"], duckdb=len(d))
check("agent mean", close(a["duration"]["mean"], sum(d) / len(d) / 1e9), ours=a["duration"]["mean"])
check("agent max", close(a["duration"]["max"], max(d) / 1e9), ours=a["duration"]["max"])
for q in (0.5, 0.95, 0.99):
    key = {0.5: "p50", 0.95: "p95", 0.99: "p99"}[q]
    check(f"agent {key}", close(a["duration"][key], rank_value(d, q), 0.01), ours=a["duration"][key],
          exact=rank_value(d, q))

# Message flows: the same paths, counts and mean durations as the shipped query.
(flows,) = sql("message_flows")
traces = len({s[0] for s in sent})
check("message flows cover every trace", sum(r[1] for r in flows) == traces, flows=sum(r[1] for r in flows),
      traces=traces)
ours = json.loads((reports / "flows.json").read_text())
check("flows traces", ours["traces"] == traces, ours=ours["traces"], traces=traces)
theirs = {tuple(r[0]): (r[1], r[2]) for r in flows}
mine = {tuple(f["path"]): (f["traces"], f["avgDuration"]) for f in ours["flows"]}
check("flow paths", mine.keys() == theirs.keys(), only_ours=list(mine.keys() - theirs.keys())[:3],
      only_duckdb=list(theirs.keys() - mine.keys())[:3])
for p, (n, avg) in mine.items():
    if p in theirs:
        check(f"flow {p}", n == theirs[p][0] and close(avg, theirs[p][1]), ours=[n, avg], duckdb=list(theirs[p]))

# Recent errors: the totals, and the latest error spans' times.
errors = json.loads((reports / "errors.json").read_text())
n_spans = con.execute(f"SELECT count(*) FROM {spans} WHERE StatusCode = 'Error'").fetchone()[0]
logs = f"read_parquet('{store}/signal=logs/*/*/*.parquet', hive_partitioning = true)"
n_logs = con.execute(f"SELECT count(*) FROM {logs} WHERE SeverityNumber >= 17").fetchone()[0]
check("error spans", errors["errorSpans"] == n_spans, ours=errors["errorSpans"], duckdb=n_spans)
check("error log records", errors["errorLogRecords"] == n_logs, ours=errors["errorLogRecords"], duckdb=n_logs)
latest = [r[0] for r in con.execute(
    f"SELECT strftime(Timestamp, '%Y-%m-%dT%H:%M:%S.%g') FROM {spans} WHERE StatusCode = 'Error' "
    f"ORDER BY Timestamp DESC LIMIT {len(errors['spans'])}").fetchall()]
check("latest error spans", [e["time"][:23] for e in errors["spans"]] == latest,
      ours=[e["time"] for e in errors["spans"]][:3], duckdb=latest[:3])

# Cost: the tokens by model.
cost = json.loads((reports / "cost.json").read_text())
tokens = {r[0]: (r[1], r[2]) for r in con.execute(
    f"SELECT coalesce(Model, '(no model)'), sum(coalesce(InputTokens, 0)), sum(coalesce(OutputTokens, 0)) FROM {spans} "
    f"WHERE InputTokens IS NOT NULL OR OutputTokens IS NOT NULL GROUP BY 1").fetchall()}
mine = {m["model"]: (m["inputTokens"], m["outputTokens"]) for m in cost["byModel"]}
check("tokens by model", mine == tokens, ours=mine, duckdb=tokens)
check("cost adds up", close(cost["total"]["cost"], sum(m["cost"] for m in cost["byModel"])), total=cost["total"])

# Activity: runs in progress (no root yet), the latest runs, warnings.
act = json.loads((reports / "activity.json").read_text())
rootless = con.execute(f"SELECT count(*) FROM (SELECT TraceId FROM {spans} GROUP BY 1 HAVING count(*) FILTER (WHERE ParentSpanId = '') = 0)").fetchone()[0]
check("runs in progress", act["inProgress"] == rootless, ours=act["inProgress"], duckdb=rootless)
latest = [r[0] for r in con.execute(
    f"SELECT strftime(Timestamp, '%Y-%m-%dT%H:%M:%S.%g') FROM {spans} WHERE ParentSpanId = '' "
    f"ORDER BY Timestamp DESC LIMIT {len(act['recent'])}").fetchall()]
check("latest runs", [r["start"][:23] for r in act["recent"]] == latest, ours=[r["start"] for r in act["recent"]][:3],
      duckdb=latest[:3])
warns = con.execute(f"SELECT count(*) FROM {logs} WHERE SeverityNumber BETWEEN 13 AND 16").fetchone()[0]
check("warnings", act["warnings"] == warns, ours=act["warnings"], duckdb=warns)

# One trace: its spans, each below its parent.
trace = json.loads((reports / "trace.json").read_text())["traces"][0]
want = con.execute(f"SELECT SpanId, ParentSpanId, SpanName FROM {spans} WHERE TraceId = '{trace['traceId']}'").fetchall()
check("trace spans", sorted((s["spanId"], s["parentSpanId"], s["name"]) for s in trace["spans"]) == sorted(want),
      ours=len(trace["spans"]), duckdb=len(want))
depth = {}
for s in trace["spans"]:
    expected = depth[s["parentSpanId"]] + 1 if s["parentSpanId"] in depth else 0
    check("trace tree order", s["depth"] == expected, span=s)
    depth[s["spanId"]] = s["depth"]

print(json.dumps({"spans": len(sent), "stored": len(stored), "agents": len(summary["byAgent"]),
                  "slow": len(slow), "windows": len(windows), "mismatches": mismatches}))
