"""What the test proxies share: forwarding a request body to the receiver behind them."""

import http.client


def forward(upstream, path, body, ctype):
    """POSTs body to 127.0.0.1:upstream at path; raises unless it answers 200."""
    c = http.client.HTTPConnection("127.0.0.1", upstream, timeout=120)
    c.request("POST", path, body=body, headers={"Content-Type": ctype})
    r = c.getresponse()
    r.read()
    c.close()
    if r.status != 200:
        raise RuntimeError(f"upstream answered {r.status}")
