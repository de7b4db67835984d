#!/usr/bin/env python3
"""Checks an OpenMetrics exposition with a parser we did not write (prometheus_client's, which
enforces the OpenMetrics 1.0 grammar: `# EOF`, family names and suffixes, histogram buckets,
exemplars of at most 128 characters on buckets and counters only).

    check_openmetrics.py OPENMETRICS_FILE [TEXT_FILE]

Exits 1 with the parser's message when the exposition is not valid OpenMetrics. Otherwise
prints one JSON line: {"families": N, "samples": S, "types": {family: type},
"created": C, "exemplars": [[sample, trace_id, span_id, value, le], ...],
"text_mismatches": [...]}. With TEXT_FILE (the same values in the Prometheus text format),
every sample of one must be a sample of the other with the same value (`_created` samples
aside, which only OpenMetrics has); the first few differences are listed.
"""

import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text


def samples(families, skip_created):
    out = {}
    for f in families:
        for s in f.samples:
            if skip_created and s.name.endswith("_created"):
                continue
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def main():
    om_text = open(sys.argv[1], encoding="utf-8").read()
    try:
        families = list(parse_om(om_text))
    except ValueError as e:
        print(f"not valid OpenMetrics: {e}", file=sys.stderr)
        sys.exit(1)
    exemplars = []
    created = 0
    for f in families:
        for s in f.samples:
            created += s.name.endswith("_created")
            if s.exemplar is not None:
                e = s.exemplar
                exemplars.append([s.name, e.labels.get("trace_id"), e.labels.get("span_id"), e.value,
                                  s.labels.get("le")])
    mismatches = []
    if len(sys.argv) > 2:
        text = samples(parse_text(open(sys.argv[2], encoding="utf-8").read()), False)
        om = samples(families, True)
        for key in sorted(set(text) | set(om)):
            if text.get(key) != om.get(key):
                mismatches.append([key[0], dict(key[1]), text.get(key), om.get(key)])
    print(json.dumps({
        "families": len(families),
        "samples": sum(len(f.samples) for f in families),
        "types": {f.name: f.type for f in families},
        "created": created,
        "exemplars": exemplars,
        "text_mismatches": mismatches[:10],
    }))


if __name__ == "__main__":
    main()
