#!/bin/sh
# Creates the Kibana data views (index patterns) of the TaskPilot guide once Kibana answers:
# taskpilot-logs-* and decision-logs-*, time field @timestamp. Run by the `kibana-setup`
# service of the `elastic` profile; KIBANA_URL points elsewhere (default http://kibana:5601).
set -euf   # -f: the patterns below are not file globs
url="${KIBANA_URL:-http://kibana:5601}"
tries=0
until curl -fsS -o /dev/null "$url/api/status"; do
    tries=$((tries + 1))
    if [ "$tries" -ge 120 ]; then
        echo "Kibana at $url did not answer" >&2
        exit 1
    fi
    sleep 5
done
for pattern in taskpilot-logs-* decision-logs-*; do
    id="${pattern%-\*}"
    curl -fsS -X POST "$url/api/index_patterns/index_pattern" \
        -H 'kbn-xsrf: true' -H 'Content-Type: application/json' \
        -d "{\"override\": true, \"index_pattern\": {\"id\": \"$id\", \"title\": \"$pattern\", \"timeFieldName\": \"@timestamp\"}}" \
        -o /dev/null
    echo "data view $pattern"
done
