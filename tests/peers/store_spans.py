"""Prints the spans a store holds, read with DuckDB (another engine than ours), as JSON:
{"spans": [[TraceId, SpanId, SpanName, ServiceName, start_ns, Duration, StatusCode], ...],
 "duplicates": number of (TraceId, SpanId) stored more than once, "files": Parquet files}.

usage: store_spans.py STORE
"""
import glob
import json
import sys

import duckdb

store = sys.argv[1]
files = glob.glob(f"{store}/signal=traces/*/*/*.parquet")
if not files:
    print(json.dumps({"spans": [], "duplicates": 0, "files": 0}))
    sys.exit(0)
con = duckdb.connect()
src = f"read_parquet('{store}/signal=traces/*/*/*.parquet', hive_partitioning = true)"
spans = con.execute(f"SELECT TraceId, SpanId, SpanName, ServiceName, epoch_ns(Timestamp), Duration, StatusCode "
                    f"FROM {src} ORDER BY 1, 2").fetchall()
dups = con.execute(f"SELECT count(*) FROM (SELECT TraceId, SpanId FROM {src} GROUP BY 1, 2 HAVING count(*) > 1)").fetchone()[0]
print(json.dumps({"spans": [list(s) for s in spans], "duplicates": dups, "files": len(files)}))
