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
