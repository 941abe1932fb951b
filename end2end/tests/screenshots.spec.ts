import { test, expect, screenshotSizes as sizes } from "./fixtures";
import path from "node:path";

// Refreshes the README's screenshots: `UPDATE_SCREENSHOTS=1 make e2e`.
test.skip(!process.env.UPDATE_SCREENSHOTS, "set UPDATE_SCREENSHOTS=1 to refresh docs/");

for (const [device, viewport] of Object.entries(sizes)) {
  for (const colorScheme of ["light", "dark"] as const) {
    test.describe(`${device}, ${colorScheme}`, () => {
      test.use({ viewport, colorScheme, serverArgs: ["--seed", "2024", "--rate", "20"] });

      test(`screenshot docs/dashboard-${device}-${colorScheme}.png`, async ({ dashboard, page }) => {
        await expect(dashboard.status).toHaveAttribute("data-state", "live");
        // Sparklines with some history and the header's figures filled in.
        await expect(page.getByTestId("latency")).toHaveText(/ms$/);
        await page.getByRole("columnheader", { name: "Change %" }).getByRole("button").click();
        await page.waitForTimeout(3000); // let the sparklines draw a few seconds of prices
        // A live column re-sorts every 2 s and prices move between: the picture is
        // taken just after a re-sort, when the column reads in order.
        await expect(async () => {
          const changes = (await page.getByTestId("change-pct").allTextContents()).map((text) =>
            Number(text.replace("−", "-").replace(/[^\d.-]/g, "")),
          );
          expect(changes).toEqual([...changes].sort((a, b) => b - a));
        }).toPass({ intervals: [20], timeout: 10_000 });
        await page.screenshot({
          path: path.join(__dirname, "..", "..", "docs", `dashboard-${device}-${colorScheme}.png`),
          fullPage: device === "phone",
        });
      });

      test(`screenshot docs/detail-${device}-${colorScheme}.png`, async ({ dashboard, page }) => {
        test.setTimeout(60_000);
        await expect(dashboard.status).toHaveAttribute("data-state", "live");
        const symbol = (await dashboard.rows.first().getAttribute("data-symbol"))!;
        await dashboard.rows.first().click();
        const detail = page.getByRole("dialog", { name: symbol });
        await expect(detail).toBeVisible();
        // Candles of a second: a fresh server has a few minutes of nothing.
        await detail.getByRole("button", { name: "1s" }).click();
        await expect(detail.locator("[data-testid=candle]")).toHaveCount(12, { timeout: 20_000 });
        const price = Number((await detail.getByTestId("detail-price").innerText()).replace(/[^\d.]/g, ""));
        await detail.getByLabel("Alert above").fill((Math.ceil(price * 1.02 * 100) / 100).toFixed(2));
        await detail.getByRole("button", { name: "Set alert" }).click();
        await expect(detail.getByTestId("alert-list")).toContainText(`${symbol} above`);
        await detail.evaluate((dialog) => (dialog.scrollTop = 0));
        await page.screenshot({
          path: path.join(__dirname, "..", "..", "docs", `detail-${device}-${colorScheme}.png`),
        });
      });
    });
  }
}
