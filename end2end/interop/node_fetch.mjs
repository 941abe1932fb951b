// Node's fetch (undici) reading the stream as a strict HTTP client, with its
// own SSE parsing: the interoperability suite's Node client (server/tests/interop.rs).
//
//   node node_fetch.mjs <base-url> <first|reused|h2> <last-event-id or ""> <updates>
//
// Prints one JSON line per event ({event, id, data}); stops after the first
// heartbeat (updates = 0) or after that many `priceUpdate`s (common.mjs).
import { base, done, get, lastEventId, warmUp } from "./common.mjs";

await warmUp();
const headers = lastEventId ? { "Last-Event-ID": lastEventId } : {};
const response = await get(`${base}/events`, { headers });
if (response.status !== 200) throw new Error(`status ${response.status}`);
const decoder = new TextDecoder();
let buffer = "";
let updates = 0;
for await (const chunk of response.body) {
  buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, "\n");
  let end;
  while ((end = buffer.indexOf("\n\n")) >= 0) {
    const block = buffer.slice(0, end);
    buffer = buffer.slice(end + 2);
    const event = { event: "message", id: null, data: [] };
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const at = line.indexOf(":");
      const field = at < 0 ? line : line.slice(0, at);
      const value = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
      if (field === "event") event.event = value;
      else if (field === "id") event.id = value;
      else if (field === "data") event.data.push(value);
    }
    if (event.data.length === 0) continue;
    console.log(JSON.stringify({ ...event, data: event.data.join("\n") }));
    if (event.event === "priceUpdate") updates += 1;
    if (done(event.event, updates)) process.exit(0);
  }
}
throw new Error("the stream ended");
