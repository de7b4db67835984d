-- Message flows (the VOS guide's query, over otel_traces): per trace, the services it passed
-- through in order of their spans' start, then how often each path occurs and its mean
-- duration (first span start to last span end).
-- Run: duckdb -f sql/message_flows.sql  (reads ./telemetry-store, or first run SET VARIABLE store = 'DIR')
WITH message_flow AS (
    SELECT
        TraceId,
        min(Timestamp) AS start_time,
        max(epoch_ns(Timestamp) + Duration) AS end_ns,
        count(DISTINCT ServiceName) AS services_touched,
        array_agg(ServiceName ORDER BY Timestamp, SpanId) AS path
    FROM read_parquet(coalesce(getvariable('store'), 'telemetry-store') || '/signal=traces/*/*/*.parquet', hive_partitioning = true)
    GROUP BY TraceId
)
SELECT
    list_distinct(path) AS services,
    count(*) AS traces,
    avg(end_ns - epoch_ns(start_time)) / 1e9 AS avg_duration_s
FROM message_flow
GROUP BY ALL
ORDER BY traces DESC, services;
