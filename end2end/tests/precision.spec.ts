import { test, expect, Dashboard, PUBLISH_TOKEN, publish, screenshotSizes as sizes } from "./fixtures";
import path from "node:path";

// Prices of every kind in one table: FX with 5 decimals, crypto from 8
// decimals to thousands, an equity, 12-character symbols with huge prices (the
// largest a price may be, too). Each symbol reads with the decimals its prices
// carry, in every figure, and the table keeps every column in its card.

const opening: [string, number][] = [
  ["EURUSD", 1.0834],
  ["BTCUSD", 97123.45],
  ["PEPEUSD", 0.00001234],
  ["DOGE", 0.0001],
  ["AAPL", 228.5],
  ["ABCDEFGHIJKL", 184467440737.15],
  ["NK225.FUTURE", 999999999999.98],
];
const moves: [string, number][] = [
  ["EURUSD", 1.08345],
  ["PEPEUSD", 0.00001201],
  ["DOGE", 0.0002],
  ["AAPL", 229.75],
  ["BTCUSD", 96950.1],
  ["ABCDEFGHIJKL", 184467440738.4],
  ["NK225.FUTURE", 999999999999.99],
];

for (const [device, viewport] of Object.entries(sizes)) {
  for (const colorScheme of ["light", "dark"] as const) {
    test.describe(`${device}, ${colorScheme}`, () => {
      test.use({ viewport, colorScheme, serverArgs: ["--no-simulator", "--publish-token", PUBLISH_TOKEN] });

      test("each symbol reads with its own decimals, and the table fits", async ({ page, request, server }) => {
        await publish(request, server.url, opening);
        await page.goto(server.url);
        const dashboard = new Dashboard(page);
        await expect(dashboard.status).toHaveAttribute("data-state", "live");
        await publish(request, server.url, moves);
        const row = (symbol: string) => page.locator(`[data-testid="quote-row"][data-symbol="${symbol}"]`);
        const price = (symbol: string) => row(symbol).getByTestId("price");
        await expect(price("EURUSD")).toContainText("1.08345");
        await expect(price("PEPEUSD")).toContainText("0.00001201");
        await expect(price("DOGE")).toContainText("0.0002");
        await expect(price("AAPL")).toContainText("229.75");
        await expect(price("BTCUSD")).toContainText("96,950.10");
        await expect(price("ABCDEFGHIJKL")).toContainText("184,467,440,738.40");
        await expect(price("NK225.FUTURE")).toContainText("999,999,999,999.99");
        // The last move has a column of its own: the price cell holds the number only.
        await expect(price("EURUSD")).toHaveText("1.08345");
        await expect(row("EURUSD").getByTestId("tick")).toContainText("▲");
        await expect(row("BTCUSD").getByTestId("tick")).toContainText("▼");
        if (device === "desktop") {
          // The derived figures carry the same decimals.
          await expect(row("EURUSD").getByTestId("change")).toHaveText("+0.00005");
          await expect(row("EURUSD").getByTestId("low")).toHaveText("1.08340");
          await expect(row("PEPEUSD").getByTestId("change")).toHaveText("\u22120.00000033");
          await expect(row("DOGE").getByTestId("high")).toHaveText("0.0002");
        }
        // Nothing outgrows the page, nor the table its card: every cell shown
        // lies inside the card (the card would scroll sideways otherwise).
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        expect(width).toBeLessThanOrEqual(viewport.width);
        const fit = await page.evaluate(() => {
          const wrap = document.querySelector(".table-wrap")!;
          const card = wrap.getBoundingClientRect();
          const cells = [...document.querySelectorAll<HTMLElement>(".tickers th, .tickers td")].filter(
            (cell) => cell.offsetParent !== null && getComputedStyle(cell).display !== "none",
          );
          const outside = cells
            .filter((cell) => {
              const box = cell.getBoundingClientRect();
              return box.width > 0 && (box.left < card.left - 0.5 || box.right > card.right + 0.5);
            })
            .map((cell) => cell.textContent);
          return { overflow: wrap.scrollWidth - wrap.clientWidth, outside, cells: cells.length };
        });
        expect(fit.overflow).toBeLessThanOrEqual(0);
        expect(fit.outside).toEqual([]);
        expect(fit.cells).toBeGreaterThan(0);
        // Looked at: docs/ with UPDATE_SCREENSHOTS=1, test-results/ otherwise.
        const folder = process.env.UPDATE_SCREENSHOTS
          ? path.join(__dirname, "..", "..", "docs")
          : path.join(__dirname, "..", "test-results");
        await page.screenshot({
          path: path.join(folder, `precision-${device}-${colorScheme}.png`),
          fullPage: device === "phone",
        });
      });
    });
  }
}
