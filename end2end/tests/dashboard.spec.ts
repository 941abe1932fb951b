import { test, expect, Dashboard } from "./fixtures";

const SYMBOLS = ["AAPL", "MSFT", "NVDA", "BRK.B", "ZZZZ"];
const EVENT_ID = /^[0-9a-f]{8}-\d+$/;

test.use({ serverArgs: ["--symbols", SYMBOLS.join(","), "--rate", "40", "--retry-ms", "500"] });

test("the table fills with every symbol, goes live and prices move", async ({ dashboard }) => {
  await expect(dashboard.rows).toHaveCount(SYMBOLS.length);
  for (const symbol of SYMBOLS) {
    await expect(dashboard.row(symbol).getByTestId("price")).toHaveText(/^\D*\d{1,3}(,\d{3})*\.\d{2}$/);
  }
  await expect(dashboard.status).toHaveAttribute("data-state", "live");
  await expect(dashboard.status).toHaveText("Live");

  const before = await dashboard.prices();
  await dashboard.expectPricesToMoveFrom(before);
  await expect(dashboard.lastEventId).toHaveText(EVENT_ID);
  await expect(dashboard.rows).toHaveCount(SYMBOLS.length);
  // A first load that resumed from the page's own snapshot has nothing to report.
  await expect(dashboard.recovery).toHaveCount(0);
});

test("Connecting until the stream answers, then Live", async ({ page, server }) => {
  // Hold the stream request until the page has hydrated and shown Connecting.
  let release = () => {};
  let requested = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const streamRequested = new Promise<void>((resolve) => (requested = resolve));
  await page.route("**/events**", async (route) => {
    requested();
    await held;
    await route.continue();
  });
  await page.goto(server.url);
  const dashboard = new Dashboard(page);

  await expect(dashboard.status).toHaveAttribute("data-state", "connecting");
  await expect(dashboard.status).toHaveText("Connecting…");
  await streamRequested; // hydrated, and the EventSource is waiting for an answer
  await expect(dashboard.status).toHaveAttribute("data-state", "connecting");

  release();

  await expect(dashboard.status).toHaveAttribute("data-state", "live");
  await expect(dashboard.status).toHaveText("Live");
});

test.describe("a server restart", () => {
  // Slow enough that the table and /api/snapshot can be caught at the same id.
  test.use({ serverArgs: ["--symbols", SYMBOLS.join(","), "--rate", "3", "--retry-ms", "500"] });

  test("goes Reconnecting, then Live, resynced, and the table equals the new snapshot", async ({
    dashboard,
    server,
    page,
  }) => {
    await expect(dashboard.status).toHaveAttribute("data-state", "live");
    await expect(dashboard.reconnects).toHaveText("0");
    const before = await dashboard.lastEventId.textContent();
    const table = page.getByTestId("ticker-table");
    const top = async () => (await table.boundingBox())!.y;
    const tableTop = await top();

    await server.stop();

    await expect(dashboard.notice).toContainText("server restarting");
    await expect(dashboard.status).toHaveAttribute("data-state", "reconnecting");
    await expect(dashboard.status).toContainText(/Reconnecting… \(attempt \d+\)/);
    // The notice floats: the table has not moved.
    expect(await top()).toBe(tableTop);

    await server.start(["--seed", "99"]);

    await expect(dashboard.status).toHaveAttribute("data-state", "live");
    await expect(dashboard.reconnects).toHaveText("1");
    await expect(dashboard.recovery).toHaveText("resynced from snapshot");
    // The restart is over: its notice went with the connection it came on (the
    // new connection may bring its own, saying why the table was resynced).
    await expect(dashboard.notice).not.toContainText("server restarting");
    // The new run's ids, not a continuation of the old ones.
    await expect(dashboard.lastEventId).toHaveText(EVENT_ID);
    expect((await dashboard.lastEventId.textContent())!.split("-")[0]).not.toBe(before!.split("-")[0]);
    await dashboard.expectToEqualSnapshot(server.url);
    await page.screenshot({ path: test.info().outputPath("after-restart.png") });

    // Down again: how the last connection came back is no longer news.
    await server.stop();
    await expect(dashboard.status).toHaveAttribute("data-state", "reconnecting");
    await expect(dashboard.recovery).toBeHidden();
    expect(await top()).toBe(tableTop);
  });
});

test.describe("a stalled feed", () => {
  // Stale after 2.5 silent heartbeat intervals (3.75 s), reopened after 6 (9 s):
  // 5 s to see it stale and take its picture on a busy machine.
  test.use({ serverArgs: ["--symbols", "AAPL,MSFT", "--rate", "20", "--heartbeat-ms", "1500"] });

  test("shows Stale while nothing arrives and Live once it flows again", async ({ dashboard, server, page }) => {
    await expect(dashboard.status).toHaveAttribute("data-state", "live");

    server.pause();
    try {
      await expect(dashboard.status).toHaveAttribute("data-state", "stale");
      await expect(dashboard.status).toContainText("Stale");
      await page.screenshot({ path: test.info().outputPath("stale.png") });
    } finally {
      server.resume();
    }

    await expect(dashboard.status).toHaveAttribute("data-state", "live");
    await expect(dashboard.reconnects).toHaveText("0");
    const before = await dashboard.prices();
    await dashboard.expectPricesToMoveFrom(before);
  });
});

test.describe("a feed silent for six heartbeats", () => {
  test.use({ serverArgs: ["--symbols", "AAPL,MSFT", "--rate", "20", "--heartbeat-ms", "300"] });

  test("is reopened from the last id and resumes once the server answers", async ({ dashboard, server, page }) => {
    await expect(dashboard.status).toHaveAttribute("data-state", "live");
    // Stale lasts about a second here: record the states rather than poll for it.
    await dashboard.recordStates();

    // The stream it reopens asks to resume from the last id it showed.
    const reopened = page.waitForRequest((request) => new URL(request.url()).pathname === "/events");
    server.pause();
    try {
      // The connection is presumed dead and a new one waits on the frozen server.
      await dashboard.expectStatesSeen(["live", "stale", "reconnecting"]);
      await expect(dashboard.status).toHaveAttribute("data-state", "reconnecting");
      // Silent since the pause, the page shows all it got: the id it resumes from.
      const asked = new URL((await reopened).url()).searchParams.get("lastEventId");
      expect(asked).toBe(await dashboard.lastEventId.textContent());
    } finally {
      server.resume();
    }

    await expect(dashboard.status).toHaveAttribute("data-state", "live");
    await expect(dashboard.reconnects).toHaveText("1");
    // Replayed from there; a machine too loaded to take the replay's burst
    // (the server catching up on its simulator) gets the latest prices instead
    // (the overload policy), which reads "resynced".
    await expect(dashboard.recovery).toHaveText(/^(resumed, \d+ missed updates? replayed|resynced from snapshot)$/);
  });
});

test.describe("in another time zone", () => {
  // No tick during the test: every time shown comes from the first HTML.
  test.use({ timezoneId: "Asia/Kolkata", serverArgs: ["--symbols", "AAPL,MSFT", "--rate", "0.001"] });

  test("update times are the viewer's local time, not the server's", async ({ dashboard, page, server }) => {
    await expect(dashboard.status).toHaveAttribute("data-state", "live");
    const snapshot = await (await page.request.get(`${server.url}/api/snapshot`)).json();
    for (const quote of snapshot.quotes) {
      // What the viewer's own clock reads for that instant (UTC+05:30, so never UTC).
      const local = await page.evaluate((ts) => new Date(ts).toTimeString().slice(0, 8), quote.ts);
      // The cell counts the time since; its title is the time of day.
      await expect(dashboard.row(quote.symbol).getByTestId("updated")).toHaveAttribute("title", local);
    }
  });
});
