# Local stack and runs (needs Docker or Podman with compose). See docs/stack.md.
COMPOSE ?= docker compose
STACK = $(COMPOSE) -f deploy/compose/compose.yaml
SCENARIO ?= successful_agent_turn
COUNT ?= 200

.PHONY: stack-up stack-down elastic-up jaeger-up jaeger-down run run-scenario test

stack-up: ## the whole stack (collector, Jaeger, Tempo, Prometheus, Grafana) and the simulator
	$(STACK) up -d --build

stack-down:
	$(STACK) --profile elastic down

elastic-up: ## the stack with Filebeat, Elasticsearch and Kibana
	$(STACK) --profile elastic up -d --build

jaeger-up: ## Jaeger alone, OTLP on localhost:4317/4318, UI on localhost:16686
	docker run -d --rm --name telemetry-simulator-jaeger -e COLLECTOR_OTLP_ENABLED=true \
	  -p 16686:16686 -p 4317:4317 -p 4318:4318 jaegertracing/all-in-one:1.62.0

jaeger-down:
	docker stop telemetry-simulator-jaeger

run: ## the mixed workload from this machine to localhost:4317 (Jaeger or the stack)
	cargo run --release -- --endpoint http://localhost:4317 --protocol grpc run --count 500 --interval 200

run-scenario: ## one scenario: make run-scenario SCENARIO=tool_retry COUNT=50
	cargo run --release -- --endpoint http://localhost:4317 --protocol grpc scenario --name $(SCENARIO) --count $(COUNT)

test:
	scripts/test.sh
