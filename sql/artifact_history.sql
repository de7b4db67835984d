-- An artifact's version history, newest first (as `telemetry-simulator report artifacts PATH`
-- shows it): each diff with its versions, agent, line counts and review status.
-- Run: duckdb -cmd "SET VARIABLE artifact = 'output-drafts/sections/*'" < sql/artifact_history.sql
-- (`*` stands for any characters. It reads ./telemetry-store, or first SET VARIABLE store = 'DIR')
SELECT
    Timestamp AS time,
    LogAttributes['artifact.path'] AS path,
    CAST(LogAttributes['artifact.version'] AS BIGINT) AS version,
    coalesce(LogAttributes['agent_id'], LogAttributes['agent.id'], LogAttributes['gen_ai.agent.name']) AS agent,
    CAST(LogAttributes['artifact.added_lines'] AS BIGINT) AS added_lines,
    CAST(LogAttributes['artifact.removed_lines'] AS BIGINT) AS removed_lines,
    LogAttributes['artifact.changed_sections'] AS changed_sections,
    coalesce(LogAttributes['artifact.review.status'], 'pending') AS review,
    coalesce(LogAttributes['run.id'], LogAttributes['run_id'], LogAttributes['runId']) AS run_id,
    TraceId AS trace_id
FROM read_parquet(coalesce(getvariable('store'), 'telemetry-store') || '/signal=logs/*/*/*.parquet', hive_partitioning = true)
WHERE map_contains(LogAttributes, 'artifact.path')
  AND LogAttributes['artifact.path'] LIKE replace(coalesce(getvariable('artifact'), '*'), '*', '%')
ORDER BY Timestamp DESC;
