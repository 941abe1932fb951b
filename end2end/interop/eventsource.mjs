// The npm `eventsource` package (the most used SSE client outside browsers;
// it reads through fetch): the interoperability suite's second Node client.
//
//   node eventsource.mjs <base-url> <first|reused|h2> <last-event-id or ""> <updates>
//
// Same arguments and output as node_fetch.mjs. `eventsource` sends
// `Last-Event-ID` itself when it reconnects; a first connection that resumes
// is given the header through its `fetch` option, as the package documents.
import { EventSource } from "eventsource";
import { base, done, get, lastEventId, warmUp } from "./common.mjs";

await warmUp();
const source = new EventSource(`${base}/events`, {
  fetch: (url, init) =>
    get(url, { ...init, headers: { ...init.headers, ...(lastEventId ? { "Last-Event-ID": lastEventId } : {}) } }),
});
let updates = 0;
const print = (event) => {
  console.log(JSON.stringify({ event: event.type, id: event.lastEventId || null, data: event.data }));
  if (event.type === "priceUpdate") updates += 1;
  if (done(event.type, updates)) {
    source.close();
    process.exit(0);
  }
};
for (const type of ["snapshot", "heartbeat", "priceUpdate", "message"]) source.addEventListener(type, print);
source.onerror = (error) => {
  console.error(`eventsource error: ${error.message ?? error.code ?? "unknown"}`);
  process.exit(1);
};
