"""Does to a run's OTLP/JSON files what a faulty pipeline would, and counts what it did.

usage: tamper.py OUTPUT_DIR OUT_DIR

Reads OUTPUT_DIR/traces.jsonl (and copies logs.jsonl and metrics.jsonl unchanged) and writes
OUT_DIR/traces.jsonl where, taking the spans in file order: every 10th span is dropped; every
25th (of those left) is written twice; `gen_ai.request.model` is removed from every span that
has it; every span named `invoke_agent …` is renamed `agent.run`; one span no run generated is
added. Prints a JSON object with the exact counts: missing, duplicated, unexpected, the spans
that lost the attribute, the renames (from → count), the spans altered (either change), and
the traces kept whole, in part, or not at all.
"""
import json
import shutil
import sys
from collections import Counter
from pathlib import Path

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
dst.mkdir(parents=True, exist_ok=True)
for name in ("logs.jsonl", "metrics.jsonl"):
    if (src / name).is_file():
        shutil.copy(src / name, dst / name)

k = 0
missing = duplicated = dropped_attr = altered = 0
renamed = Counter()
spans_of, kept_of = Counter(), Counter()
out = []
for line in open(src / "traces.jsonl"):
    req = json.loads(line)
    for rs in req["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            kept = []
            for s in ss["spans"]:
                k += 1
                spans_of[s["traceId"]] += 1
                if k % 10 == 0:
                    missing += 1
                    continue
                kept_of[s["traceId"]] += 1
                changed = False
                attrs = s.get("attributes", [])
                if any(a["key"] == "gen_ai.request.model" for a in attrs):
                    s["attributes"] = [a for a in attrs if a["key"] != "gen_ai.request.model"]
                    dropped_attr += 1
                    changed = True
                if s["name"].startswith("invoke_agent"):
                    renamed[s["name"]] += 1
                    s["name"] = "agent.run"
                    changed = True
                altered += changed
                kept.append(s)
                if len(kept) % 25 == 1:
                    kept.append(s)
                    duplicated += 1
            ss["spans"] = kept
    out.append(json.dumps(req, separators=(",", ":")))
extra = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "intruder"}}]},
                            "scopeSpans": [{"spans": [{"traceId": "f" * 32, "spanId": "e" * 16, "name": "not generated",
                                                       "startTimeUnixNano": "1795255200000000000",
                                                       "endTimeUnixNano": "1795255201000000000"}]}]}]}
out.append(json.dumps(extra, separators=(",", ":")))
(dst / "traces.jsonl").write_text("\n".join(out) + "\n")
whole = sum(1 for t, n in spans_of.items() if kept_of[t] == n)
kept_traces = sum(1 for t in spans_of if kept_of[t] > 0)
print(json.dumps({"spans": k, "missing": missing, "duplicated": duplicated, "unexpected": 1,
                  "dropped_attr": dropped_attr, "renamed": dict(renamed), "altered": altered,
                  "traces": len(spans_of), "kept": kept_traces, "whole": whole}))
