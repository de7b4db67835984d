"""What the test proxies share: forwarding a request body to the receiver behind them,
answering the sender, and serving."""

import http.client
import http.server


def forward(upstream, path, body, ctype):
    """POSTs body to 127.0.0.1:upstream at path; raises unless it answers 200."""
    c = http.client.HTTPConnection("127.0.0.1", upstream, timeout=120)
    c.request("POST", path, body=body, headers={"Content-Type": ctype})
    r = c.getresponse()
    r.read()
    c.close()
    if r.status != 200:
        raise RuntimeError(f"upstream answered {r.status}")


def reply_ok(handler):
    """Answers the sender 200 with an empty protobuf body."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/x-protobuf")
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def serve(listen, handler_class):
    """Serves on 127.0.0.1:listen, one thread a request; says READY once listening."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", listen), handler_class)
    print("READY", flush=True)
    server.serve_forever()
