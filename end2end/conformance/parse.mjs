// Parses a captured SSE stream (standard input) with the npm package
// eventsource-parser and prints what it saw as JSON, for the conformance test in
// server/tests/conformance.rs:
// {"retry": [ms...], "events": [{"type", "data", "lastEventId"}...]}
// `lastEventId` is what a browser's MessageEvent would carry: the last `id:` seen.
import { createParser } from "eventsource-parser";

const retry = [];
const events = [];
let lastEventId = "";
const parser = createParser({
  onEvent(event) {
    if (event.id !== undefined) lastEventId = event.id;
    events.push({ type: event.event ?? "message", data: event.data, lastEventId });
  },
  onRetry(ms) {
    retry.push(ms);
  },
  onError(error) {
    console.error(`eventsource-parser: ${error.message}`);
    process.exitCode = 1;
  },
});
const decoder = new TextDecoder();
for await (const chunk of process.stdin) parser.feed(decoder.decode(chunk, { stream: true }));
parser.feed(decoder.decode());
process.stdout.write(JSON.stringify({ retry, events }));
