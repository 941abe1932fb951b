import { test, expect, Dashboard, PUBLISH_TOKEN, postPrices } from "./fixtures";

// Operators: real prices in, a viewer token, stream limits.

const VIEWER = "viewer-token-9876543210";

test.describe("fed by a publisher, without the simulator", () => {
  test.use({ serverArgs: ["--no-simulator", "--publish-token", PUBLISH_TOKEN] });

  test("the table starts empty and a published symbol appears as a new row, live", async ({
    dashboard,
    server,
    page,
  }) => {
    const publish = (data: unknown) => postPrices(page.request, server.url, data);
    await expect(dashboard.status).toHaveAttribute("data-state", "live");
    await expect(page.getByTestId("no-prices")).toBeVisible();
    await expect(dashboard.rows).toHaveCount(0);
    await page.screenshot({ path: test.info().outputPath("empty.png") });

    expect((await publish([{ symbol: "ACME", price: 12.5 }])).status()).toBe(200);
    await expect(dashboard.row("ACME").getByTestId("price")).toHaveText(/12\.50/);
    await expect(page.getByTestId("no-prices")).toHaveCount(0);

    expect((await publish({ symbol: "NEWCO", price: 3 })).status()).toBe(200);
    await expect(dashboard.rows).toHaveCount(2);
    await expect(dashboard.row("NEWCO").getByTestId("price")).toHaveText(/3\.00/);
    // The watchlist offers the new symbols too.
    await expect(page.getByTestId("watching")).toHaveText("Watching all 2 symbols");
    await page.getByTestId("watchlist").locator("summary").click();
    await expect(page.locator('input[data-symbol="NEWCO"]')).toBeVisible();

    // A refused batch changes nothing, on the server or on screen.
    const refused = await publish([
      { symbol: "ACME", price: 99 },
      { symbol: "ACME", price: -1 },
    ]);
    expect(refused.status()).toBe(422);
    expect(await refused.json()).toMatchObject({ error: "invalid_price", item: 1 });
    expect((await publish({ symbol: "NEWCO", price: 4 })).status()).toBe(200);
    await expect(dashboard.row("NEWCO").getByTestId("price")).toHaveText(/4\.00/);
    await expect(dashboard.row("ACME").getByTestId("price")).toHaveText(/12\.50/);
    await dashboard.expectToEqualSnapshot(server.url);
  });
});

test.describe("behind a viewer token", () => {
  test.use({ serverArgs: ["--viewer-token", VIEWER] });

  test("without the token the page says why; the link's token opens it and leaves the address", async ({
    page,
    server,
  }) => {
    const denied = await page.goto(server.url);
    expect(denied!.status()).toBe(401);
    await expect(page.getByTestId("denied")).toContainText("needs an access token");
    await page.screenshot({ path: test.info().outputPath("denied.png") });

    await page.goto(`${server.url}/?token=${VIEWER}`);
    expect(page.url()).toBe(`${server.url}/`);
    const dashboard = new Dashboard(page);
    await expect(dashboard.status).toHaveAttribute("data-state", "live");
    await expect(dashboard.rows).not.toHaveCount(0);
    // HttpOnly: no script on the page can read the token.
    expect(await page.evaluate(() => document.cookie)).not.toContain(VIEWER);

    // The token is gone (cookie cleared): the next stream is refused, and the
    // dashboard says why instead of retrying for ever.
    await page.context().clearCookies();
    await page.getByTestId("pause").click();
    await page.getByTestId("pause").click();
    await expect(dashboard.status).toHaveAttribute("data-state", "closed");
    await expect(dashboard.notice).toContainText("needs an access token");
    await page.screenshot({ path: test.info().outputPath("token-gone.png") });
  });
});

test.describe("past the stream limit", () => {
  test.use({ serverArgs: ["--max-streams-per-ip", "1", "--retry-ms", "500"] });

  // Tabs of one browser share one stream, so the second viewer is another browser.
  test("a second browser shows \"server busy, retrying\" and goes live when a place frees", async ({
    dashboard,
    page,
    browser,
    server,
  }) => {
    await expect(dashboard.status).toHaveAttribute("data-state", "live");
    const otherBrowser = await browser.newContext();
    const second = await otherBrowser.newPage();
    // In the page itself: when each answer to a HEAD /events came (with its
    // Retry-After), and when each new EventSource was made.
    await second.addInitScript(() => {
      const log: { at: number; what: string; retryAfter?: number }[] = [];
      (window as unknown as { tries: typeof log }).tries = log;
      const fetch = window.fetch;
      window.fetch = async (...args: Parameters<typeof window.fetch>) => {
        const response = await fetch(...args);
        // fetch(url, { method }) or fetch(new Request(url, { method })).
        const method = args[0] instanceof Request ? args[0].method : args[1]?.method;
        if (method === "HEAD") {
          log.push({ at: performance.now(), what: `HEAD ${response.status}`, retryAfter: Number(response.headers.get("retry-after")) });
        }
        return response;
      };
      const Original = window.EventSource;
      window.EventSource = class extends Original {
        constructor(url: string | URL, init?: EventSourceInit) {
          log.push({ at: performance.now(), what: "open" });
          super(url, init);
        }
      };
    });
    type Try = { at: number; what: string; retryAfter?: number };
    const tries = () => second.evaluate(() => (window as unknown as { tries: Try[] }).tries);
    await second.goto(server.url);
    const other = new Dashboard(second);
    await expect(other.status).toHaveText(/^Server busy, retrying… \(attempt \d+\)$/);
    await expect(second.getByTestId("next-try")).toHaveText(/^next try in \d+/);
    await second.screenshot({ path: test.info().outputPath("busy.png") });
    // It tries again, one try at a time, never before the server said it may.
    await expect.poll(async () => (await tries()).filter((t) => t.what === "open").length).toBeGreaterThanOrEqual(4);
    const log = await tries();
    const told = log.filter((t) => t.what === "HEAD 503");
    expect(told.length, JSON.stringify(log)).toBeGreaterThanOrEqual(3);
    for (const head of told) {
      expect(head.retryAfter).toBeGreaterThanOrEqual(1);
      const next = log.find((t) => t.what === "open" && t.at > head.at);
      if (!next) continue;
      // 5 ms for the timer's own rounding.
      expect(next.at - head.at, JSON.stringify(log)).toBeGreaterThanOrEqual(head.retryAfter! * 1000 - 5);
    }

    await page.close();
    await expect(other.status).toHaveAttribute("data-state", "live", { timeout: 30_000 });
    await expect(other.rows).not.toHaveCount(0);
    await otherBrowser.close();
  });
});
