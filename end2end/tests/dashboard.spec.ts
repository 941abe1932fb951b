import { test, expect } from "./fixtures";

const SYMBOLS = ["AAPL", "MSFT", "NVDA", "BRK.B", "ZZZZ"];

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
  await expect(dashboard.lastEventId).toHaveText(/^\d+$/);
  await expect(dashboard.rows).toHaveCount(SYMBOLS.length);
});

test("the status shows Reconnecting while the server is down and Live once it is back", async ({
  dashboard,
  server,
  page,
}) => {
  await expect(dashboard.status).toHaveAttribute("data-state", "live");
  await expect(dashboard.reconnects).toHaveText("0");

  await server.stop();

  await expect(dashboard.status).toHaveAttribute("data-state", "reconnecting");
  await expect(dashboard.status).toContainText("Reconnecting");
  const idWhileDown = await dashboard.lastEventId.textContent();

  await server.start(["--seed", "99"]);

  await expect(dashboard.status).toHaveAttribute("data-state", "live");
  await expect(dashboard.reconnects).toHaveText("1");
  await expect(dashboard.lastEventId).not.toHaveText(idWhileDown ?? "");
  const before = await dashboard.prices();
  await dashboard.expectPricesToMoveFrom(before);
  await page.screenshot({ path: test.info().outputPath("after-reconnect.png") });
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
      await expect(dashboard.row(quote.symbol).getByTestId("updated")).toHaveText(local);
    }
  });
});
