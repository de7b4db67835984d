-- Error rate per 5-minute window and service (the VOS guide's query, over otel_traces):
-- spans with StatusCode 'Error' over all spans, in percent, windows above 5 % only. Same
-- figures as `telemetry-simulator report error-rate --window 5m --above 5`.
-- Run: duckdb -f sql/error_rate.sql  (reads ./telemetry-store, or first run SET VARIABLE store = 'DIR')
SELECT
    time_bucket(INTERVAL 5 MINUTE, Timestamp) AS "window",
    ServiceName AS service,
    count(*) AS spans,
    count(*) FILTER (WHERE StatusCode = 'Error') AS errors,
    100.0 * count(*) FILTER (WHERE StatusCode = 'Error') / count(*) AS error_rate
FROM read_parquet(coalesce(getvariable('store'), 'telemetry-store') || '/signal=traces/*/*/*.parquet', hive_partitioning = true)
GROUP BY ALL
HAVING error_rate > 5
ORDER BY "window", service;
