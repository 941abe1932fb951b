import { readFileSync } from "node:fs";
import { test, expect, publish, postPrices, PUBLISH_TOKEN } from "./fixtures";

// The keyboard alone drives the table, and the table leaves as CSV exactly as
// it is shown. Prices are the test's own (no simulator), so every row and every
// cell is known.

test.use({ serverArgs: ["--no-simulator", "--publish-token", PUBLISH_TOKEN] });

const visibleSymbols = (page: import("@playwright/test").Page) =>
  page
    .getByTestId("ticker-table")
    .locator("tbody")
    .getByTestId("quote-row")
    .evaluateAll((rows) => rows.map((row) => row.getAttribute("data-symbol") ?? ""));

test("the keyboard alone selects rows, goes to the filter and lists the keys", async ({ page, server, request, dashboard }) => {
  await publish(request, server.url, [
    ["AAPL", 190],
    ["MSFT", 410],
    ["NVDA", 120],
  ]);
  await page.reload();
  await expect(dashboard.status).toHaveAttribute("data-state", "live");
  await expect(dashboard.rows).toHaveCount(3);
  const order = await visibleSymbols(page);
  const selected = page.locator('tbody tr[aria-selected="true"]');

  // ↓ selects the first row shown, j the next, k and ↑ go back; the focus moves
  // with the selection, and only one row is ever selected.
  await page.locator("body").press("ArrowDown");
  await expect(selected).toHaveAttribute("data-symbol", order[0]);
  await expect(dashboard.row(order[0])).toBeFocused();
  await page.keyboard.press("j");
  await expect(selected).toHaveAttribute("data-symbol", order[1]);
  await expect(dashboard.row(order[1])).toBeFocused();
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowDown");
  await expect(selected).toHaveAttribute("data-symbol", order[2]);
  await page.keyboard.press("k");
  await page.keyboard.press("ArrowUp");
  await expect(selected).toHaveAttribute("data-symbol", order[0]);
  await expect(selected).toHaveCount(1);

  // / goes to the filter (the slash is not typed into it); ↓ from there
  // selects the first row the filter leaves.
  await page.keyboard.press("/");
  const filter = page.getByTestId("filter");
  await expect(filter).toBeFocused();
  await expect(filter).toHaveValue("");
  await page.keyboard.type("MS");
  await expect(dashboard.rows).toHaveCount(1);
  await page.keyboard.press("ArrowDown");
  await expect(selected).toHaveAttribute("data-symbol", "MSFT");
  await expect(dashboard.row("MSFT")).toBeFocused();

  // ? lists the keys in a modal dialog; Esc closes it.
  await page.keyboard.press("?");
  const keys = page.getByRole("dialog", { name: "Keys" });
  await expect(keys).toBeVisible();
  await expect(keys).toContainText("filter the symbols");
  await page.keyboard.press("Escape");
  await expect(keys).toBeHidden();
  // And the toolbar's Keys button opens the same list.
  await page.getByRole("button", { name: "Keys" }).click();
  await expect(keys).toBeVisible();
  await keys.getByRole("button", { name: "Close" }).click();
  await expect(keys).toBeHidden();
});

test("Export CSV downloads the table as shown: filtered, sorted, plain numbers, ISO 8601 UTC", async ({
  page,
  server,
  request,
  dashboard,
}) => {
  // Known times (a minute ago, on a whole second) and prices, one with a
  // thousands separator and one negative change on screen.
  const base = Math.floor(Date.now() / 1000) * 1000 - 60_000;
  const prices = [
    { symbol: "AAPL", price: 1234.5, ts: base },
    { symbol: "NVDA", price: 0.5, ts: base + 1_000 },
    { symbol: "MSFT", price: 20.25, ts: base + 2_000 },
    { symbol: "AAPL", price: 1230.125, ts: base + 3_000 },
    { symbol: "NVDA", price: 0.75, ts: base + 4_250 },
  ];
  const response = await postPrices(request, server.url, prices);
  expect(response.status(), await response.text()).toBe(200);
  await page.reload();
  await expect(dashboard.status).toHaveAttribute("data-state", "live");
  await expect(dashboard.rows).toHaveCount(3);

  // The viewer's view: the symbols with an A, by price.
  await page.getByTestId("filter").fill("A");
  await page.getByRole("button", { name: "Price", exact: true }).click();
  await expect(dashboard.rows).toHaveCount(2);
  const shown = await visibleSymbols(page);

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Export CSV" }).click(),
  ]);
  expect(download.suggestedFilename()).toBe("tickertape.csv");
  const csv = readFileSync((await download.path())!, "utf8");
  expect(csv.endsWith("\r\n")).toBe(true);
  const lines = csv.slice(0, -2).split("\r\n");
  expect(lines[0]).toBe("Symbol,Price,Change,Change %,High,Low,Updated");

  // Each line is a row as shown, in the order shown, its numbers without what
  // the screen adds (separators, signs, %), its time the last update's.
  const plain = (text: string) => text.trim().replace(/,/g, "").replace("\u2212", "-").replace(/^\+/, "").replace(/%$/, "");
  const lastTs: Record<string, number> = {};
  for (const p of prices) lastTs[p.symbol] = p.ts;
  const expected = [];
  for (const symbol of shown) {
    const row = dashboard.row(symbol);
    const cell = async (id: string) => plain(await row.getByTestId(id).innerText());
    expected.push(
      [
        symbol,
        await cell("price"),
        await cell("change"),
        await cell("change-pct"),
        await cell("high"),
        await cell("low"),
        new Date(lastTs[symbol]).toISOString(),
      ].join(","),
    );
  }
  expect(lines.slice(1)).toEqual(expected);
  // The numbers the test published, written plainly.
  expect(lines.find((line) => line.startsWith("AAPL,"))).toBe(
    `AAPL,1230.125,-4.375,-0.35,1234.500,1230.125,${new Date(base + 3_000).toISOString()}`,
  );
});
