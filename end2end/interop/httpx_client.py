"""Python's httpx with httpx-sse reading the stream: one of the
interoperability suite's clients (server/tests/interop.rs).

    python httpx_client.py <base-url> <first|reused|h2> <last-event-id or ""> <updates>

Prints one JSON line per event ({event, id, data}); stops after the first
heartbeat (updates = 0) or after that many `priceUpdate`s. HTTPS trusts
$CA_FILE; `h2` speaks HTTP/2 (the `h2` package).
"""

import json
import os
import sys

import httpx
from httpx_sse import connect_sse


def main(base: str, mode: str, last_event_id: str, wanted: int) -> None:
    verify = os.environ.get("CA_FILE") or True
    limits = httpx.Limits(max_connections=1)
    with httpx.Client(http2=mode == "h2", http1=mode != "h2", verify=verify, limits=limits, timeout=30) as client:
        if mode == "reused":
            client.get(f"{base}/healthz").raise_for_status()
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        with connect_sse(client, "GET", f"{base}/events", headers=headers) as source:
            source.response.raise_for_status()
            print(json.dumps({"protocol": source.response.http_version}), flush=True)
            updates = 0
            for sse in source.iter_sse():
                # A block with no data (the `retry:` one) is no event (the SSE
                # standard), though httpx-sse yields one.
                if sse.data == "" and sse.event == "message":
                    continue
                print(json.dumps({"event": sse.event, "id": sse.id or None, "data": sse.data}), flush=True)
                updates += sse.event == "priceUpdate"
                if (wanted == 0 and sse.event == "heartbeat") or (wanted > 0 and updates >= wanted):
                    return
    raise SystemExit("the stream ended")


if __name__ == "__main__":
    base, mode, last_event_id, wanted = sys.argv[1:5]
    main(base, mode, last_event_id, int(wanted))
