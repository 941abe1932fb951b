import { Page } from "@playwright/test";
import { readdirSync } from "node:fs";
import path from "node:path";
import { test, expect, postPrices, publish, PUBLISH_TOKEN, Dashboard } from "./fixtures";

// A symbol's detail and its price alerts, against the real server with prices
// the test publishes (no simulator): every candle and every crossing is known.

test.use({ serverArgs: ["--no-simulator", "--publish-token", PUBLISH_TOKEN] });

type Price = { symbol: string; price: number; ts: number };
type Candle = { t: number; open: number; high: number; low: number; close: number; count: number };

/** The candles of `interval` milliseconds that `prices` make, oldest first. */
function candlesOf(prices: Price[], interval: number): Candle[] {
  const candles: Candle[] = [];
  for (const { price, ts } of prices) {
    const t = Math.floor(ts / interval) * interval;
    const last = candles[candles.length - 1];
    if (last && last.t === t) {
      last.high = Math.max(last.high, price);
      last.low = Math.min(last.low, price);
      last.close = price;
      last.count += 1;
    } else {
      candles.push({ t, open: price, high: price, low: price, close: price, count: 1 });
    }
  }
  return candles;
}

/** The candles the detail's chart draws, read from their data attributes. */
function drawnCandles(page: Page): Promise<Candle[]> {
  return page
    .getByTestId("chart")
    .locator("[data-testid=candle]")
    .evaluateAll((candles) =>
      candles.map((c) => ({
        t: Number(c.getAttribute("data-t")),
        open: Number(c.getAttribute("data-open")),
        high: Number(c.getAttribute("data-high")),
        low: Number(c.getAttribute("data-low")),
        close: Number(c.getAttribute("data-close")),
        count: Number(c.getAttribute("data-count")),
      })),
    );
}

/** Opens `symbol`'s detail with a click on its row. */
async function openDetail(page: Page, dashboard: Dashboard, symbol: string) {
  await dashboard.row(symbol).click();
  const detail = page.getByRole("dialog", { name: symbol });
  await expect(detail).toBeVisible();
  return detail;
}

test("the chart's candles are the published prices', and the forming one moves with the stream", async ({
  page,
  server,
  request,
  dashboard,
}) => {
  // Three whole minutes ago, on the minute: three candles of 1 min, and
  // whatever 5 min candles they fall in.
  const base = Math.floor(Date.now() / 60_000) * 60_000 - 180_000;
  const prices: Price[] = [
    [5_000, 100],
    [20_000, 103],
    [40_000, 99],
    [59_000, 101],
    [61_000, 102],
    [90_000, 104.5],
    [122_000, 104],
  ].map(([at, price]) => ({ symbol: "CND", price, ts: base + at }));
  const response = await postPrices(request, server.url, prices);
  expect(response.status(), await response.text()).toBe(200);
  await page.reload();
  await expect(dashboard.status).toHaveAttribute("data-state", "live");

  const candleRequests: string[] = [];
  page.on("request", (r) => {
    if (r.url().includes("/api/candles")) candleRequests.push(r.url());
  });
  const detail = await openDetail(page, dashboard, "CND");
  await expect(detail.getByRole("button", { name: "1m" })).toHaveAttribute("aria-pressed", "true");
  await expect.poll(() => drawnCandles(page)).toEqual(candlesOf(prices, 60_000));
  // The same candles as the API answers.
  const api = await (await request.get(`${server.url}/api/candles?symbol=CND&interval=1m`)).json();
  expect(await drawnCandles(page)).toEqual(api.candles);
  // The session's figures.
  await expect(detail.getByTestId("session")).toContainText("High");
  await expect(detail.getByTestId("session")).toContainText("104.50");
  await expect(detail.getByTestId("session")).toContainText("99.00");
  // Both axes are drawn: prices on the right, times below.
  expect(await detail.locator(".axis-label").count()).toBeGreaterThan(2);

  // A live price starts a new candle, then moves it, from the stream alone.
  const asked = candleRequests.length;
  const now = Date.now();
  const live: Price[] = [
    { symbol: "CND", price: 105, ts: now },
    { symbol: "CND", price: 106.25, ts: now + 1 },
  ];
  expect((await postPrices(request, server.url, [live[0]])).status()).toBe(200);
  await expect.poll(() => drawnCandles(page)).toEqual(candlesOf([...prices, live[0]], 60_000));
  expect((await postPrices(request, server.url, [live[1]])).status()).toBe(200);
  await expect.poll(() => drawnCandles(page)).toEqual(candlesOf([...prices, ...live], 60_000));
  expect(candleRequests.length, "a request per update").toBe(asked);
  await expect(detail.getByTestId("latest").locator("li").first()).toContainText("106.25");
  await expect(detail.getByTestId("detail-price")).toHaveText("106.25");

  // The interval switch: 5 min candles, and 1 s ones.
  await detail.getByRole("button", { name: "5m" }).click();
  await expect.poll(() => drawnCandles(page)).toEqual(candlesOf([...prices, ...live], 300_000));
  await detail.getByRole("button", { name: "1s" }).click();
  await expect.poll(() => drawnCandles(page)).toEqual(candlesOf([...prices, ...live], 1_000));
});

test("the keyboard alone opens a row's detail and closes it, and the focus goes back to the row", async ({
  page,
  server,
  request,
  dashboard,
}) => {
  await publish(request, server.url, [
    ["AAPL", 190],
    ["MSFT", 410],
  ]);
  await page.reload();
  await expect(dashboard.status).toHaveAttribute("data-state", "live");
  await expect(dashboard.rows).toHaveCount(2);
  const first = await dashboard.rows.first().getAttribute("data-symbol");

  await page.locator("body").press("ArrowDown");
  await expect(dashboard.row(first!)).toBeFocused();
  await page.keyboard.press("Enter");
  const detail = page.getByRole("dialog", { name: first! });
  await expect(detail).toBeVisible();
  await expect(detail.locator("[data-testid=candle]")).toHaveCount(1);
  // The keys are the dialog's while it is open: j does not move the table.
  await page.keyboard.press("j");
  await expect(page.locator('tbody tr[aria-selected="true"]')).toHaveAttribute("data-symbol", first!);
  await page.keyboard.press("Escape");
  await expect(detail).toBeHidden();
  await expect(dashboard.row(first!)).toBeFocused();

  // The next row, then its Close button, from the keyboard too.
  await page.keyboard.press("ArrowDown");
  const second = await page.locator('tbody tr[aria-selected="true"]').getAttribute("data-symbol");
  expect(second).not.toBe(first);
  await page.keyboard.press("Enter");
  const next = page.getByRole("dialog", { name: second! });
  await expect(next).toBeVisible();
  await next.getByRole("button", { name: "Close" }).focus();
  await page.keyboard.press("Enter");
  await expect(next).toBeHidden();
  await expect(dashboard.row(second!)).toBeFocused();
});

test.describe("through a resync", () => {
  test.use({ serverArgs: ["--no-simulator", "--publish-token", PUBLISH_TOKEN, "--retry-ms", "500"] });

  test("the chart follows a server restart and stays right in a following tab", async ({
    context,
    page,
    server,
    request,
    dashboard,
  }) => {
    const at = (price: number): Price => ({ symbol: "RSY", price, ts: Date.now() });
    const before = [at(20), at(21)];
    expect((await postPrices(request, server.url, before)).status()).toBe(200);
    await page.reload();
    await expect(dashboard.status).toHaveAttribute("data-state", "live");
    // A second tab follows this one's stream, with the same detail open.
    const second = await context.newPage();
    await second.goto(server.url);
    const follower = new Dashboard(second);
    await expect(follower.status).toHaveAttribute("data-state", "live");
    for (const [tab, board] of [
      [page, dashboard],
      [second, follower],
    ] as const) {
      await openDetail(tab, board, "RSY");
      await tab.getByTestId("detail").getByRole("button", { name: "1s" }).click();
      await expect.poll(() => drawnCandles(tab)).toEqual(candlesOf(before, 1_000));
    }

    // The server restarts with nothing: both tabs resync from its snapshot,
    // and their charts show the new server's candles, not the old ones.
    await server.stop();
    await expect(dashboard.status).toHaveAttribute("data-state", "reconnecting");
    await server.start();
    const after = [at(30)];
    await expect(async () => {
      expect((await postPrices(request, server.url, after)).status()).toBe(200);
    }).toPass();
    await expect(dashboard.recovery).toHaveText("resynced from snapshot");
    const api = async () =>
      (await (await request.get(`${server.url}/api/candles?symbol=RSY&interval=1s`)).json()).candles;
    for (const tab of [page, second]) {
      await expect.poll(async () => JSON.stringify(await drawnCandles(tab))).toBe(JSON.stringify(await api()));
    }
    // And the stream moves both from there.
    const live = at(31.5);
    expect((await postPrices(request, server.url, [live])).status()).toBe(200);
    for (const tab of [page, second]) {
      await expect.poll(async () => JSON.stringify(await drawnCandles(tab))).toBe(JSON.stringify(await api()));
      await expect(tab.getByTestId("detail-price")).toHaveText("31.50");
    }
  });
});

/** Sets an alert for the open detail's symbol. */
async function setAlert(page: Page, side: "above" | "below", level: string) {
  const detail = page.getByTestId("detail");
  await detail.getByLabel(`Alert ${side}`).fill(level);
  await detail.getByRole("button", { name: "Set alert" }).click();
}

test("an alert fires once for a crossing, again only after the price went back, and stays until dismissed", async ({
  page,
  server,
  request,
  dashboard,
}) => {
  await publish(request, server.url, [["ALR", 100]]);
  await page.reload();
  await expect(dashboard.status).toHaveAttribute("data-state", "live");
  const detail = await openDetail(page, dashboard, "ALR");
  await setAlert(page, "above", "105");
  await setAlert(page, "below", "95.5");
  const list = detail.getByTestId("alert-list");
  await expect(list).toContainText("ALR above 105.00");
  await expect(list).toContainText("ALR below 95.50");
  // A level that is not a price is refused, and nothing is added.
  await setAlert(page, "above", "-3");
  await expect(detail.getByText("A level is a price above zero")).toBeVisible();
  await expect(list.locator("li")).toHaveCount(2);
  await page.keyboard.press("Escape");
  await expect(detail).toBeHidden();

  const alerts = page.getByRole("alert");
  await publish(request, server.url, [["ALR", 104.99]]);
  await expect(dashboard.row("ALR").getByTestId("price")).toHaveText("104.99");
  await expect(alerts).toHaveCount(0);
  // The crossing fires it: the symbol, the level and the price, and the row marked.
  await publish(request, server.url, [["ALR", 105.25]]);
  await expect(alerts).toHaveCount(1);
  await expect(alerts.first()).toHaveText(/ALR rose above 105\.00: 105\.25/);
  await expect(dashboard.row("ALR")).toHaveAttribute("data-alert", "fired");
  // Staying above does not fire it again.
  await publish(request, server.url, [["ALR", 106]]);
  await publish(request, server.url, [["ALR", 107]]);
  await expect(dashboard.row("ALR").getByTestId("price")).toHaveText("107.00");
  await expect(alerts).toHaveCount(1);
  // Back under the level re-arms it; the next crossing fires it again.
  await publish(request, server.url, [["ALR", 104]]);
  await publish(request, server.url, [["ALR", 105]]);
  await expect(alerts).toHaveCount(2);
  await expect(alerts.nth(1)).toHaveText(/ALR rose above 105\.00: 105\.00/);
  // The other side: falling to its level.
  await publish(request, server.url, [["ALR", 95.5]]);
  await expect(alerts).toHaveCount(3);
  await expect(alerts.nth(2)).toHaveText(/ALR fell below 95\.50: 95\.50/);

  // Each stays until dismissed.
  for (let left = 3; left > 0; left--) {
    await alerts.first().getByRole("button", { name: /Dismiss alert/ }).click();
    await expect(alerts).toHaveCount(left - 1);
  }
  await expect(dashboard.row("ALR")).not.toHaveAttribute("data-alert", "fired");

  // The alerts outlive a reload, and are checked from the start (from when
  // their code has loaded, which the page does by itself when it has alerts).
  await page.reload();
  await expect(dashboard.status).toHaveAttribute("data-state", "live");
  await expect(page.getByTestId("alert-list")).toContainText("ALR above 105.00");
  await publish(request, server.url, [["ALR", 99]]);
  await publish(request, server.url, [["ALR", 106]]);
  await expect(alerts).toHaveCount(1);
  await expect(alerts.first()).toHaveText(/ALR rose above 105\.00: 106\.00/);
  // They are listed, and can be removed.
  const again = await openDetail(page, dashboard, "ALR");
  const kept = again.getByTestId("alert-list");
  await expect(kept.locator("li")).toHaveCount(2);
  await kept.getByRole("button", { name: "Remove alert ALR above 105.00" }).click();
  await kept.getByRole("button", { name: "Remove alert ALR below 95.50" }).click();
  await expect(kept).toHaveText("No alerts set.");
  expect(await page.evaluate(() => localStorage.getItem("tickertape.alerts"))).toBeNull();
});

test("two tabs sharing one stream: an alert set in one is the other's too, and notifies once per browser", async ({
  context,
  server,
  request,
}) => {
  // Both tabs are hidden and allowed to notify; each records the
  // notifications it shows.
  await context.addInitScript(() => {
    Object.defineProperty(document, "hidden", { get: () => true });
    const shown: string[] = [];
    (window as unknown as { shown: string[] }).shown = shown;
    class Recorded {
      static permission = "granted";
      static requestPermission = async () => "granted";
      constructor(title: string) {
        shown.push(title);
      }
    }
    (window as unknown as { Notification: unknown }).Notification = Recorded;
  });
  await publish(request, server.url, [["TWO", 50]]);
  const first = await context.newPage();
  const second = await context.newPage();
  const tabs = [first, second].map((page) => new Dashboard(page));
  await first.goto(server.url);
  await expect(tabs[0].status).toHaveAttribute("data-state", "live");
  await second.goto(server.url);
  await expect(tabs[1].status).toHaveAttribute("data-state", "live");
  // One of them holds the browser's one stream.
  await expect
    .poll(async () => {
      const roles = await Promise.all(
        [first, second].map((page) => page.getByTestId("connection-status").getAttribute("class")),
      );
      return roles.filter((role) => /shared-leader/.test(role ?? "")).length;
    })
    .toBe(1);

  // Set in the follower, kept for the browser.
  await tabs[1].row("TWO").click();
  await setAlert(second, "above", "51");
  await second.keyboard.press("Escape");
  // The first tab has it too (its alerts load, with their code, on the
  // storage event: a crossing before that is not one it saw).
  await expect(first.getByTestId("alert-list")).toContainText("TWO above 51.00");

  await publish(request, server.url, [["TWO", 52]]);
  for (const page of [first, second]) {
    await expect(page.getByRole("alert")).toHaveCount(1);
    await expect(page.getByRole("alert")).toHaveText(/TWO rose above 51\.00: 52\.00/);
  }
  const shown = async () =>
    (await first.evaluate(() => (window as unknown as { shown: string[] }).shown)).concat(
      await second.evaluate(() => (window as unknown as { shown: string[] }).shown),
    );
  await expect.poll(shown).toEqual(["TWO rose above 51.00: 52.00"]);
  // Staying above: nothing more, in either tab.
  await publish(request, server.url, [["TWO", 53]]);
  for (const page of [first, second]) {
    await expect(page.getByRole("row").filter({ hasText: "TWO" }).getByTestId("price")).toHaveText("53.00");
    await expect(page.getByRole("alert")).toHaveCount(1);
  }
  expect(await shown()).toHaveLength(1);
});

/** Whether the site under test was split into chunks (a release build is; a
 * debug build keeps everything in one WASM). */
function split(): boolean {
  const site = process.env.TICKERTAPE_SITE_ROOT ?? path.resolve(__dirname, "..", "..", "target", "site");
  return readdirSync(path.join(site, "pkg")).some((file) => file.startsWith("split_"));
}

test("a chunk the server does not give is said on the page, and the next use tries again", async ({
  page,
  server,
  request,
  dashboard,
}) => {
  test.skip(!split(), "a debug build has no chunks");
  await publish(request, server.url, [["GONE", 10]]);
  await page.reload();
  await expect(dashboard.status).toHaveAttribute("data-state", "live");
  // What loads on first use cannot be fetched (a proxy refuses it, the
  // server is restarting): the page says so and goes on, with no error.
  await page.route("**/pkg/split_*.wasm", (route) => route.fulfill({ status: 503, body: "" }));
  await dashboard.row("GONE").click();
  await expect(dashboard.notice).toContainText("could not be loaded from the server");
  await expect(page.getByRole("dialog")).toHaveCount(0);
  await publish(request, server.url, [["GONE", 11]]);
  await expect(dashboard.row("GONE").getByTestId("price")).toHaveText("11.00");

  // Given again, it loads on the next click.
  await page.unroute("**/pkg/split_*.wasm");
  await dashboard.row("GONE").click();
  await expect(page.getByRole("dialog", { name: "GONE" })).toBeVisible();
  await expect(page.getByTestId("chart").locator("[data-testid=candle]").first()).toBeVisible();
});
