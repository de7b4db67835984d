-- Message flows (the VOS guide's query, over otel_traces): per trace, the components its
-- spans run in (Component: vos.service or component, else the service) in order of start,
-- repeats in a row collapsed, then how often each path occurs and its mean duration (first
-- span start to last span end). Same figures as `telemetry-simulator report flows`.
-- Run: duckdb -f sql/message_flows.sql  (reads ./telemetry-store, or first run SET VARIABLE store = 'DIR')
WITH per_trace AS (
    SELECT
        TraceId,
        min(Timestamp) AS start_time,
        max(epoch_ns(Timestamp) + Duration) AS end_ns,
        count(DISTINCT coalesce(Component, ServiceName)) AS components_touched,
        array_agg(coalesce(Component, ServiceName) ORDER BY Timestamp, SpanId) AS path
    FROM read_parquet(coalesce(getvariable('store'), 'telemetry-store') || '/signal=traces/*/*/*.parquet', hive_partitioning = true)
    GROUP BY TraceId
)
SELECT
    list_filter(path, lambda x, i: i = 1 OR x <> path[i - 1]) AS flow,
    count(*) AS traces,
    avg(end_ns - epoch_ns(start_time)) / 1e9 AS avg_duration_s
FROM per_trace
GROUP BY flow
ORDER BY traces DESC, flow;
