import type { APIRequestContext, BrowserContext, CDPSession, Page } from "@playwright/test";
import { test, expect, Dashboard, PUBLISH_TOKEN, metric, publish } from "./fixtures";

// One stream per browser: the tabs of one browser context share one EventSource.
// The tab holding the Web Lock leads (its status pill has the class
// `shared-leader`) and passes every event to the others over a BroadcastChannel.
// Prices are published by the test, so every id is known.

const SYMBOLS = ["AAPL", "MSFT", "KO"];

test.use({ serverArgs: ["--no-simulator", "--publish-token", PUBLISH_TOKEN, "--heartbeat-ms", "1000"] });

/** The streams the server has open. */
function streams(request: APIRequestContext, url: string): Promise<number> {
  return metric(request, url, "tickertape_streams");
}

/** Publishes the `n`th price of the test: the symbols in turn, each a little higher. */
function publishNth(request: APIRequestContext, url: string, n: number): Promise<void> {
  return publish(request, url, [[SYMBOLS[n % SYMBOLS.length], 100 + (n % 500) / 10]]);
}

/** Publishes one price every ~15 ms until stopped (pacing, not waiting). */
function feed(request: APIRequestContext, url: string, from = 0): { stop: () => Promise<number> } {
  let running = true;
  let n = from;
  const done = (async () => {
    while (running) {
      await publishNth(request, url, n++);
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return n;
    },
  };
}

/** Records, in `page`, the id of every price update the tabs pass each other
 * (a listener of the test's own on the dashboard's channel). */
async function recordRelayed(page: Page): Promise<void> {
  await page.evaluate(() => {
    const ids: string[] = [];
    (window as unknown as { relayed: string[] }).relayed = ids;
    new BroadcastChannel("tickertape.stream").onmessage = (event) => {
      if (Array.isArray(event.data) && event.data[0] === "priceUpdate") ids.push(event.data[2]);
    };
  });
}

async function relayed(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { relayed: string[] }).relayed);
}

/** Which of `pages` leads (waits until exactly one does). */
async function leaderOf(pages: Page[]): Promise<Page> {
  let leader: Page | undefined;
  await expect(async () => {
    const roles = await Promise.all(
      pages.map((page) => page.getByTestId("connection-status").getAttribute("class")),
    );
    const leaders = pages.filter((_, i) => /shared-leader/.test(roles[i] ?? ""));
    expect(leaders).toHaveLength(1);
    leader = leaders[0];
  }).toPass();
  return leader!;
}

/** The dashboard in `page` and in `more` other tabs of its browser, each live
 * (every page is watched for errors by the `pageErrors` fixture). */
async function openTabs(
  context: BrowserContext,
  page: Page,
  url: string,
  more: number,
): Promise<{ pages: Page[] }> {
  const pages = [page];
  for (let i = 0; i < more; i++) pages.push(await context.newPage());
  for (const tab of pages) {
    await tab.goto(url);
    await expect(new Dashboard(tab).status).toHaveAttribute("data-state", "live");
  }
  return { pages };
}

/** The dashboard in `page` and in a second tab of its browser, both live: which leads. */
async function twoTabs(
  context: BrowserContext,
  page: Page,
  url: string,
): Promise<{ leader: Page; follower: Page }> {
  const { pages } = await openTabs(context, page, url, 1);
  const leader = await leaderOf(pages);
  return { leader, follower: pages.find((tab) => tab !== leader)! };
}

/** Freezes `page` as a browser freezes a hidden tab (CDP `Page.setWebLifecycleState`).
 * Headless chromium (156 here) accepts the command and freezes nothing: its timers
 * keep running and it fires no `freeze` event. Then the event it would fire before
 * freezing is dispatched by hand, so the dashboard's answer to it is what is tested. */
async function setLifecycle(cdp: CDPSession, page: Page, state: "frozen" | "active"): Promise<void> {
  await cdp.send("Page.setWebLifecycleState", { state });
  if (state === "active") return;
  const runs = await Promise.race([
    page.evaluate(() => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 100))),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1_000)),
  ]);
  if (runs) await page.evaluate(() => document.dispatchEvent(new Event("freeze")));
}

async function thaw(cdp: CDPSession, page: Page): Promise<void> {
  await setLifecycle(cdp, page, "active");
  // Dispatched by hand for the same reason; a page that was frozen gets it anyway.
  await page.evaluate(() => document.dispatchEvent(new Event("resume")));
}

test("four tabs share one stream; closing the leader hands it on with no gap or repeat", async ({
  context,
  page,
  server,
}) => {
  const request = page.request;
  await publishNth(request, server.url, 0);
  const { pages } = await openTabs(context, page, server.url, 3);
  await expect.poll(() => streams(request, server.url)).toBe(1);
  for (const tab of pages) {
    await expect(new Dashboard(tab).status).toHaveText("Live · shared by 4 tabs");
  }
  await page.screenshot({ path: test.info().outputPath("shared.png") });

  // Every tab's table moves with the one stream, and matches the snapshot.
  const prices = feed(request, server.url, 1);
  const leader = await leaderOf(pages);
  const others = pages.filter((tab) => tab !== leader);
  for (const tab of others) await recordRelayed(tab);
  await expect.poll(async () => (await relayed(others[0])).length).toBeGreaterThan(20);

  // The leader goes: another tab takes over within 2 s, still one stream.
  const resumedBefore = (await (await request.get(`${server.url}/api/stats`)).json()).resumed;
  const closedAt = Date.now();
  await leader.close();
  await expect
    .poll(
      async () => {
        const resumed = (await (await request.get(`${server.url}/api/stats`)).json()).resumed;
        return resumed > resumedBefore && (await streams(request, server.url)) === 1;
      },
      { intervals: [50], timeout: 2_000 },
    )
    .toBe(true);
  const takeover = Date.now() - closedAt;
  test.info().annotations.push({ type: "takeover", description: `${takeover} ms` });
  console.log(`takeover: one stream again, resumed, ${takeover} ms after the leader closed`);
  await leaderOf(others);
  for (const tab of others) {
    await expect(new Dashboard(tab).status).toHaveText("Live · shared by 3 tabs");
  }
  const handedOver = (await relayed(others[0])).length;
  await expect.poll(async () => (await relayed(others[0])).length).toBeGreaterThan(handedOver + 20);
  await prices.stop();

  // The ids passed on went on from one leader to the next without a gap or
  // a repeat, and every remaining tab shows the server's snapshot.
  for (const tab of others) {
    const seqs = (await relayed(tab)).map((id) => Number(id.split("-")[1]));
    expect(seqs.length).toBeGreaterThan(40);
    const breaks = seqs.slice(1).filter((seq, i) => seq !== seqs[i] + 1);
    expect(breaks, `ids seen: ${seqs.join(",")}`).toEqual([]);
    const dashboard = new Dashboard(tab);
    await dashboard.expectToEqualSnapshot(server.url);
    await expect(dashboard.recovery).not.toHaveText(/resynced/);
  }
  expect(await streams(request, server.url)).toBe(1);
});

test("another browser has a stream of its own", async ({ browser, page, server }) => {
  await page.goto(server.url);
  await expect(new Dashboard(page).status).toHaveAttribute("data-state", "live");
  const other = await browser.newContext();
  try {
    const tab = await other.newPage();
    await tab.goto(server.url);
    await expect(new Dashboard(tab).status).toHaveAttribute("data-state", "live");
    await expect.poll(() => streams(page.request, server.url)).toBe(2);
  } finally {
    await other.close();
  }
});

test("without Web Locks, each tab has a stream of its own, as before", async ({ context, page, server }) => {
  // As in a browser that has no `navigator.locks`.
  await context.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, "locks", { get: () => undefined });
  });
  const { pages } = await openTabs(context, page, server.url, 1);
  for (const tab of pages) {
    const dashboard = new Dashboard(tab);
    await expect(dashboard.status).toHaveText("Live");
    await expect(dashboard.status).not.toHaveClass(/shared/);
  }
  await expect.poll(() => streams(page.request, server.url)).toBe(2);
});

test("a frozen leader hands the stream over, and follows when it thaws", async ({ context, page, server }) => {
  const request = page.request;
  await publishNth(request, server.url, 0);
  const { leader, follower } = await twoTabs(context, page, server.url);

  const cdp = await context.newCDPSession(leader);
  await setLifecycle(cdp, leader, "frozen");
  await expect(follower.getByTestId("connection-status")).toHaveClass(/shared-leader/, { timeout: 2_000 });
  await expect.poll(() => streams(request, server.url)).toBe(1);

  // The new leader's stream carries the prices on.
  const prices = feed(request, server.url, 1);
  try {
    const before = await new Dashboard(follower).prices();
    await new Dashboard(follower).expectPricesToMoveFrom(before);
  } finally {
    await prices.stop();
  }

  await thaw(cdp, leader);
  await expect(leader.getByTestId("connection-status")).toHaveClass(/shared-follower/);
  await new Dashboard(leader).expectToEqualSnapshot(server.url);
  expect(await streams(request, server.url)).toBe(1);
});

test("a leader that stops answering is replaced by a follower", async ({ context, page, server }) => {
  const request = page.request;
  await publishNth(request, server.url, 0);
  const { leader, follower } = await twoTabs(context, page, server.url);
  // The follower has heard the heartbeats' interval (its clock offset needs two).
  await expect(follower.getByTestId("clock-offset")).not.toHaveText("—");
  const prices = feed(request, server.url, 1);
  try {
    // The leader's page is busy for 12 s: it passes nothing on and cannot let go of
    // the lock. The follower hears nothing, goes stale, and takes the stream over.
    const hung = leader.evaluate(() => {
      const until = Date.now() + 12_000;
      while (Date.now() < until);
    });
    await expect(new Dashboard(follower).status).toHaveAttribute("data-state", "stale");
    await expect(follower.getByTestId("connection-status")).toHaveClass(/shared-leader/, { timeout: 10_000 });
    const before = await new Dashboard(follower).prices();
    await new Dashboard(follower).expectPricesToMoveFrom(before);
    await hung;
    // Back, the old leader finds its lock taken: it closes its stream and follows.
    await expect(leader.getByTestId("connection-status")).toHaveClass(/shared-follower/);
    await expect.poll(() => streams(request, server.url)).toBe(1);
  } finally {
    await prices.stop();
  }
  await new Dashboard(leader).expectToEqualSnapshot(server.url);
  await new Dashboard(follower).expectToEqualSnapshot(server.url);
});

test("pause holds one tab's view only; the watchlist is the same in every tab", async ({
  context,
  page,
  server,
}) => {
  const request = page.request;
  for (let n = 0; n < 3; n++) await publishNth(request, server.url, n);
  const { leader, follower } = await twoTabs(context, page, server.url);

  // The follower pauses: its view holds still, the leader's moves on.
  await follower.getByTestId("pause").click();
  await expect(new Dashboard(follower).status).toHaveAttribute("data-state", "paused");
  const held = await new Dashboard(follower).lastEventId.textContent();
  for (let n = 3; n < 9; n++) await publishNth(request, server.url, n);
  await new Dashboard(leader).expectToEqualSnapshot(server.url);
  expect(await new Dashboard(follower).lastEventId.textContent()).toBe(held);
  expect(await streams(request, server.url)).toBe(1);
  await follower.getByTestId("pause").click();
  await expect(new Dashboard(follower).recovery).toHaveText("resynced from snapshot");
  await new Dashboard(follower).expectToEqualSnapshot(server.url);

  // The leader pauses: it hands the stream over, and the other tab stays live.
  await leader.getByTestId("pause").click();
  await expect(follower.getByTestId("connection-status")).toHaveClass(/shared-leader/);
  await publishNth(request, server.url, 9);
  await new Dashboard(follower).expectToEqualSnapshot(server.url);
  expect(await streams(request, server.url)).toBe(1);
  await leader.getByTestId("pause").click();
  await expect(new Dashboard(leader).status).toHaveAttribute("data-state", "live");

  // A watchlist changed in one tab is every tab's, and the one stream follows it.
  const events: string[] = [];
  for (const tab of [leader, follower]) {
    tab.on("request", (r) => {
      if (new URL(r.url()).pathname === "/events") events.push(r.url());
    });
  }
  await follower.getByTestId("watchlist").locator("summary").click();
  await follower.locator('input[data-symbol="KO"]').uncheck();
  for (const tab of [leader, follower]) {
    await expect(new Dashboard(tab).rows).toHaveCount(2);
    await expect(tab.getByTestId("watching")).toHaveText("Watching 2 of 3 symbols");
  }
  await expect.poll(() => events.at(-1)).toContain("symbols=AAPL,MSFT");
  await expect.poll(() => streams(request, server.url)).toBe(1);
  await publishNth(request, server.url, 10); // MSFT at 101.00
  for (const tab of [leader, follower]) {
    await expect(new Dashboard(tab).row("MSFT").getByTestId("price")).toHaveText(/101\.00/);
  }
});

test("a follower shows the leader's trouble: reconnecting with its countdown, then live", async ({
  context,
  page,
  server,
}) => {
  const { leader, follower } = await twoTabs(context, page, server.url);
  await server.stop();
  for (const tab of [leader, follower]) {
    await expect(tab.getByTestId("connection-status")).toHaveText(/^Reconnecting… \(attempt \d+\) · shared by 2 tabs$/);
    await expect(tab.getByTestId("next-try")).toHaveText(/^next try in \d+ s$/);
  }
  await server.start();
  for (const tab of [leader, follower]) {
    const dashboard = new Dashboard(tab);
    await expect(dashboard.status).toHaveAttribute("data-state", "live", { timeout: 30_000 });
    await expect(dashboard.reconnects).toHaveText("1");
    await expect(tab.getByTestId("next-try")).toHaveCount(0);
  }
  expect(await streams(page.request, server.url)).toBe(1);
});
