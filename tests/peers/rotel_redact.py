"""A rotel trace processor (rotel's Python processor SDK), as a redaction and a rename in a
real collector: removes `gen_ai.request.model` from every span and renames every
`invoke_agent …` span `agent.run`. Newer rotel calls `process_spans`, older `process`."""


def _edit(resource_spans):
    for scope_spans in resource_spans.scope_spans:
        for span in scope_spans.spans:
            span.attributes = [kv for kv in span.attributes if kv.key != "gen_ai.request.model"]
            if span.name.startswith("invoke_agent"):
                span.name = "agent.run"


def process_spans(resource_spans):
    _edit(resource_spans)


def process(resource_spans):
    _edit(resource_spans)
