import { test as base, expect, CuttingProxy, PUBLISH_TOKEN, publish } from "./fixtures";

// Chromium's own EventSource, no dashboard code: the browser half of the
// interoperability suite (the other clients are in server/tests/interop.rs).
// The stream is cut under it; the browser reconnects by itself, sends
// `Last-Event-ID`, and must get exactly the updates it missed.


const test = base.extend<{ cutter: CuttingProxy }>({
  cutter: async ({ server }, use) => {
    const proxy = new CuttingProxy(() => server.port);
    await proxy.start();
    proxy.scheme = server.scheme;
    await use(proxy);
    await proxy.stop();
  },
});

type Seen = { type: string; id: string; data: string };

async function resumesExactly(
  page: import("@playwright/test").Page,
  request: import("@playwright/test").APIRequestContext,
  serverUrl: string,
  proxy: CuttingProxy,
): Promise<string> {
  await page.goto(`${proxy.url}/healthz`);
  const protocol = await page.evaluate(
    () => (performance.getEntries()[0] as PerformanceNavigationTiming).nextHopProtocol,
  );
  await page.evaluate(() => {
    const seen: Seen[] = [];
    (window as unknown as { seen: Seen[] }).seen = seen;
    const source = new EventSource("/events");
    for (const type of ["snapshot", "heartbeat", "priceUpdate"]) {
      source.addEventListener(type, (event) => {
        const message = event as MessageEvent;
        seen.push({ type, id: message.lastEventId, data: message.data });
      });
    }
  });
  const seen = () => page.evaluate(() => (window as unknown as { seen: Seen[] }).seen);
  await expect.poll(async () => (await seen()).map((e) => e.type)).toEqual(["snapshot", "heartbeat"]);

  await publish(request, serverUrl, [["AAPL", 101], ["MSFT", 202], ["AAPL", 103]]);
  await expect.poll(async () => (await seen()).filter((e) => e.type === "priceUpdate").length).toBe(3);
  proxy.cutAll();
  await publish(request, serverUrl, [["MSFT", 204], ["AAPL", 105], ["MSFT", 206]]);
  await expect.poll(async () => (await seen()).filter((e) => e.type === "priceUpdate").length).toBe(6);

  const events = await seen();
  // Resumed, not resynced: one snapshot only, and every update once, in order.
  expect(events.filter((e) => e.type === "snapshot")).toHaveLength(1);
  const updates = events.filter((e) => e.type === "priceUpdate");
  const seqs = updates.map((e) => Number(e.id.split("-")[1]));
  const first = Number(events[0].id.split("-")[1]);
  expect(seqs).toEqual([1, 2, 3, 4, 5, 6].map((n) => first + n));
  expect(updates.map((e) => JSON.parse(e.data).price)).toEqual([101, 202, 103, 204, 105, 206]);
  return protocol;
}

test.describe("over HTTP/1.1", () => {
  test.use({
    serverArgs: ["--no-simulator", "--symbols", "AAPL,MSFT", "--retry-ms", "300", "--publish-token", PUBLISH_TOKEN],
  });
  test("chromium's EventSource resumes with Last-Event-ID exactly", async ({ page, request, server, cutter }) => {
    expect(await resumesExactly(page, request, server.url, cutter)).toBe("http/1.1");
  });
});

test.describe("over HTTPS with HTTP/2", () => {
  test.use({
    serverArgs: [
      "--tls-self-signed",
      "--no-simulator",
      "--symbols",
      "AAPL,MSFT",
      "--retry-ms",
      "300",
      "--publish-token",
      PUBLISH_TOKEN,
    ],
    ignoreHTTPSErrors: true,
  });
  test("chromium's EventSource resumes with Last-Event-ID exactly", async ({ page, request, server, cutter }) => {
    expect(await resumesExactly(page, request, server.url, cutter)).toBe("h2");
  });
});
