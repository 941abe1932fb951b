"""Python's aiohttp reading the stream (a strict HTTP/1.1 client, with its own
SSE parsing): one of the interoperability suite's clients
(server/tests/interop.rs).

    python aiohttp_client.py <base-url> <first|reused> <last-event-id or ""> <updates>

Prints one JSON line per event ({event, id, data}); stops after the first
heartbeat (updates = 0) or after that many `priceUpdate`s. HTTPS trusts
$CA_FILE. aiohttp speaks HTTP/1.1 only.
"""

import asyncio
import json
import os
import ssl
import sys

import aiohttp


async def main(base: str, mode: str, last_event_id: str, wanted: int) -> None:
    context = ssl.create_default_context(cafile=os.environ["CA_FILE"]) if os.environ.get("CA_FILE") else None
    # One connection: a reused one carries both requests.
    connector = aiohttp.TCPConnector(limit=1, ssl=context if context else True)
    async with aiohttp.ClientSession(connector=connector) as session:
        if mode == "reused":
            async with session.get(f"{base}/healthz") as health:
                await health.read()
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        async with session.get(f"{base}/events", headers=headers) as response:
            if response.status != 200:
                raise SystemExit(f"status {response.status}")
            print(json.dumps({"protocol": f"HTTP/{response.version.major}.{response.version.minor}"}), flush=True)
            updates = 0
            event = {"event": "message", "id": None, "data": []}
            async for raw in response.content:
                line = raw.decode().rstrip("\r\n")
                if line == "":
                    if event["data"]:
                        print(json.dumps({**event, "data": "\n".join(event["data"])}), flush=True)
                        updates += event["event"] == "priceUpdate"
                        if (wanted == 0 and event["event"] == "heartbeat") or (wanted > 0 and updates >= wanted):
                            return
                    event = {"event": "message", "id": None, "data": []}
                    continue
                if line.startswith(":"):
                    continue
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    event["event"] = value
                elif field == "id":
                    event["id"] = value
                elif field == "data":
                    event["data"].append(value)
            raise SystemExit("the stream ended")


if __name__ == "__main__":
    base, mode, last_event_id, wanted = sys.argv[1:5]
    asyncio.run(main(base, mode, last_event_id, int(wanted)))
