#!/usr/bin/env python3
"""Checks, independently of the simulator's code, that its span metrics count spans that ended.

    check_span_metrics.py OUTPUT_DIR

Reads OUTPUT_DIR/traces.jsonl and OUTPUT_DIR/metrics.jsonl (OTLP/JSON lines). For every
metrics export and every `calls` point (span.name, span.kind, status.code) and `duration`
histogram point, the value must equal the number of spans in traces.jsonl with that
resource, name, kind and status whose end time is at or before the point's time (resources
with the same attributes count as one, on both sides). Prints one
JSON line: {"exports": N, "points": P, "exemplars": E, "mismatches": [...first few...]}.
Each exemplar of a `duration` point must be a span of traces.jsonl that ended in that
export's interval (after the previous export's time, at or before this one's).
"""

import bisect
import json
import sys
from collections import defaultdict

KIND = {0: "SPAN_KIND_UNSPECIFIED", 1: "SPAN_KIND_INTERNAL", 2: "SPAN_KIND_SERVER", 3: "SPAN_KIND_CLIENT",
        4: "SPAN_KIND_PRODUCER", 5: "SPAN_KIND_CONSUMER"}
STATUS = {0: "STATUS_CODE_UNSET", 1: "STATUS_CODE_OK", 2: "STATUS_CODE_ERROR"}


def attrs(list_):
    out = {}
    for a in list_ or []:
        v = a["value"]
        out[a["key"]] = next(iter(v.values())) if v else None
    return out


def main():
    d = sys.argv[1]
    ends = defaultdict(list)  # (service, name, kind, status) -> sorted end times
    span_end = {}  # (trace id, span id) -> end
    for line in open(f"{d}/traces.jsonl"):
        for rs in json.loads(line)["resourceSpans"]:
            service = json.dumps(attrs(rs["resource"].get("attributes")), sort_keys=True)
            for ss in rs["scopeSpans"]:
                for s in ss["spans"]:
                    key = (service, s["name"], KIND[s.get("kind", 0)], STATUS[s.get("status", {}).get("code", 0)])
                    ends[key].append(int(s["endTimeUnixNano"]))
                    span_end[(s["traceId"], s["spanId"])] = int(s["endTimeUnixNano"])
    for v in ends.values():
        v.sort()
    exports = points = exemplars = 0
    mismatches = []
    previous = 0
    for line in open(f"{d}/metrics.jsonl"):
        exports += 1
        got = defaultdict(int)  # (metric, key, time) -> value, summed over equal resources
        for rm in json.loads(line)["resourceMetrics"]:
            service = json.dumps(attrs(rm["resource"].get("attributes")), sort_keys=True)
            for sm in rm["scopeMetrics"]:
                for m in sm["metrics"]:
                    if m["name"] == "calls":
                        pts = [(p, int(p["asInt"])) for p in m["sum"]["dataPoints"]]
                    elif m["name"] == "duration":
                        pts = [(p, int(p["count"])) for p in m["histogram"]["dataPoints"]]
                        for p, _ in pts:
                            t = int(p["timeUnixNano"])
                            for e in p.get("exemplars", []):
                                exemplars += 1
                                end = span_end.get((e["traceId"], e["spanId"]))
                                if (end is None or not previous < end <= t) and len(mismatches) < 10:
                                    mismatches.append({"exemplar": e, "span_end": end, "interval": [previous, t]})
                    else:
                        continue
                    for p, value in pts:
                        a = attrs(p.get("attributes"))
                        key = (service, a["span.name"], a["span.kind"], a["status.code"])
                        got[(m["name"], key, int(p["timeUnixNano"]))] += value
        previous = max((t for (_, _, t) in got), default=previous)
        # A series whose spans ended by the export's time must be there too.
        for t in {t for (_, _, t) in got}:
            for key, v in ends.items():
                if bisect.bisect_right(v, t) > 0:
                    got.setdefault(("calls", key, t), 0)
        for (name, key, t), value in sorted(got.items()):
            want = bisect.bisect_right(ends.get(key, []), t)
            points += 1
            if value != want and len(mismatches) < 10:
                mismatches.append({"metric": name, "key": key[1:], "time": t, "value": value, "ended": want})
    print(json.dumps({"exports": exports, "points": points, "exemplars": exemplars, "mismatches": mismatches}))


if __name__ == "__main__":
    main()
