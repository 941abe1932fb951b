// What the Node clients of the interoperability suite share: their arguments,
// and the fetch each request goes through.
//
//   <base-url> <first|reused|h2> <last-event-id or ""> <updates>
//
// `reused` asks for /healthz first, on the same kept-alive connection (fetch's
// pool). `h2` goes through undici, the library Node's fetch is, with HTTP/2
// allowed (Node 20's built-in fetch cannot). HTTPS trusts $NODE_EXTRA_CA_CERTS.
import { Agent, fetch as undiciFetch } from "undici";

export const [base, mode, lastEventId, wantedText] = process.argv.slice(2);
export const wanted = Number(wantedText);

const h2 = new Agent({ allowH2: true });
export const get = mode === "h2" ? (url, init) => undiciFetch(url, { ...init, dispatcher: h2 }) : fetch;

/** Asks for /healthz first when the stream must reuse a kept-alive connection. */
export async function warmUp() {
  if (mode === "reused") await (await get(`${base}/healthz`)).text();
}

/** Whether the client has read enough: the first heartbeat, or `wanted` updates. */
export function done(type, updates) {
  return (wanted === 0 && type === "heartbeat") || (wanted > 0 && updates >= wanted);
}
