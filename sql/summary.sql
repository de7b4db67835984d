-- The daily summary's figures (as `telemetry-simulator report summary` computes them):
-- runs are root spans (no ParentSpanId), an agent run is a span with an AgentName.
-- Run: duckdb -f sql/summary.sql  (reads ./telemetry-store, or first run SET VARIABLE store = 'DIR')
CREATE OR REPLACE TEMP VIEW spans AS
    SELECT * FROM read_parquet(coalesce(getvariable('store'), 'telemetry-store') || '/signal=traces/*/*/*.parquet', hive_partitioning = true);

-- Overview.
SELECT
    count(*) AS total_runs,
    avg(CASE WHEN StatusCode = 'Error' THEN 0 ELSE 1 END) AS success_rate,
    avg(Duration) / 1e9 AS average_duration_s,
    count(DISTINCT SpanName) AS active_workflows
FROM spans WHERE ParentSpanId = '';

-- By agent (p95 exact here, the report's is within 1 %).
SELECT
    AgentName AS agent,
    count(*) AS runs,
    avg(CASE WHEN StatusCode = 'Error' THEN 0 ELSE 1 END) AS success_rate,
    avg(Duration) / 1e9 AS avg_duration_s,
    quantile_cont(Duration, 0.95) / 1e9 AS p95_duration_s
FROM spans WHERE AgentName IS NOT NULL
GROUP BY agent ORDER BY runs DESC, agent;

-- Errors by type: error spans where the failure started (no error span below them).
SELECT coalesce(e.ErrorType, 'unknown') AS type, count(*) AS count
FROM spans e
WHERE e.StatusCode = 'Error'
  AND NOT EXISTS (SELECT 1 FROM spans c
                  WHERE c.TraceId = e.TraceId AND c.ParentSpanId = e.SpanId AND c.StatusCode = 'Error')
GROUP BY type ORDER BY count DESC, type;

-- Artifacts: the diffs written (each a new version of an artifact) and their review status,
-- from the log records that carry them.
CREATE OR REPLACE TEMP VIEW logs AS
    SELECT * FROM read_parquet(coalesce(getvariable('store'), 'telemetry-store') || '/signal=logs/*/*/*.parquet', hive_partitioning = true);
SELECT
    count(*) AS created,
    count(*) FILTER (WHERE coalesce(LogAttributes['artifact.review.status'], 'pending') NOT IN ('approved', 'rejected')) AS pending_review,
    count(*) FILTER (WHERE LogAttributes['artifact.review.status'] = 'approved') AS approved,
    count(*) FILTER (WHERE LogAttributes['artifact.review.status'] = 'rejected') AS rejected
FROM logs WHERE map_contains(LogAttributes, 'artifact.path');
