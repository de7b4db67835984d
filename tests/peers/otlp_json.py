"""OTLP/JSON → protobuf message, the way the OTLP specification defines it.

OTLP/JSON differs from the proto3 JSON mapping in one place: trace and span ids are hex
strings, not base64. We check each id strictly (lowercase hex of the right length), turn it
into base64, then let google.protobuf.json_format.ParseDict do the strict rest (unknown
fields rejected, 64-bit integers as strings or numbers, enums as integers)."""

import base64
import re

from google.protobuf import json_format

HEX = {"traceId": 32, "spanId": 16, "parentSpanId": 16}


def _fix_ids(obj, where="$"):
    if isinstance(obj, dict):
        for k, v in list(obj.items()):
            if k in HEX and isinstance(v, str):
                if v == "" and k == "parentSpanId":
                    continue
                if not re.fullmatch(r"[0-9a-f]{%d}" % HEX[k], v):
                    raise ValueError(f"{where}.{k}: {v!r} is not {HEX[k]} lowercase hex digits")
                obj[k] = base64.b64encode(bytes.fromhex(v)).decode()
            else:
                _fix_ids(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _fix_ids(v, f"{where}[{i}]")
    return obj


def parse(text, message):
    import json

    json_format.ParseDict(_fix_ids(json.loads(text)), message)
    return message
