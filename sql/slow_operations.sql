-- Slow operations (the VOS guide's query, over the store's otel_traces files): per agent and
-- operation, the mean and longest duration and the count, where the mean is at least 1 s,
-- slowest first. The agent is AgentName (gen_ai.agent.name, agent_name or agent.name), else
-- the service. Same figures as `telemetry-simulator report slow --threshold 1s`.
-- Run: duckdb -f sql/slow_operations.sql  (reads ./telemetry-store, or first run
--      SET VARIABLE store = 'DIR')
SELECT
    coalesce(AgentName, ServiceName) AS agent,
    SpanName AS operation,
    avg(Duration) / 1e9 AS avg_duration_s,
    max(Duration) / 1e9 AS max_duration_s,
    count(*) AS count
FROM read_parquet(coalesce(getvariable('store'), 'telemetry-store') || '/signal=traces/*/*/*.parquet', hive_partitioning = true)
GROUP BY ALL
HAVING avg(Duration) >= 1e9
ORDER BY avg_duration_s DESC, agent, operation;
