import { test, expect, Dashboard, PUBLISH_TOKEN, publish } from "./fixtures";
import { Page } from "@playwright/test";

// axe-core (npm `axe-core`, WCAG 2.1 A and AA rules), injected into the live
// dashboard in each of its states and both colour schemes. Any violation fails,
// with what axe says about it. Lit rows are checked in every combination of
// flash and text colour: rows are lit by hand, up and down in turn.

const axeSource = require.resolve("axe-core/axe.min.js");

// The page's Content-Security-Policy admits only its own scripts; axe is
// injected past it, for these tests only.
test.use({ bypassCSP: true });

type Violation = { id: string; help: string; nodes: { target: string[]; failureSummary: string }[] };

async function expectAccessible(page: Page, state: string): Promise<void> {
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    if ((await page.evaluate(() => typeof (window as unknown as { axe?: unknown }).axe)) === "undefined") {
      await page.addScriptTag({ path: axeSource });
    }
    const violations: Violation[] = await page.evaluate(async () => {
      const axe = (window as unknown as { axe: { run: (...args: unknown[]) => Promise<{ violations: Violation[] }> } }).axe;
      const result = await axe.run(document, {
        runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
      });
      return result.violations;
    });
    const described = violations.flatMap((v) =>
      v.nodes.map((node) => `${v.id} (${v.help}) at ${node.target.join(" ")}: ${node.failureSummary}`),
    );
    expect(described, `axe-core found violations on the ${state} dashboard, ${scheme} scheme`).toEqual([]);
  }
}


/** Prices that leave rows up, down and flat, published to `url`. */
async function publishMixed(page: Page, url: string): Promise<void> {
  const post = (prices: [string, number][]) => publish(page.request, url, prices);
  const symbols = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH", "III"];
  await post(symbols.map((symbol) => [symbol, 100]));
  // Up, down, flat, in turn.
  await post(symbols.map((symbol, i) => [symbol, [101.5, 98.25, 100][i % 3]]));
}

/** Lights every row as an update does for a moment: with rows up, down and
 * flat in turn and flashes up, up, down, down in turn, every text colour meets
 * every flash. */
async function lightRows(page: Page): Promise<void> {
  await page.getByTestId("quote-row").first().waitFor();
  await page.evaluate(() => {
    document.querySelectorAll("[data-testid=quote-row]").forEach((row, i) => {
      row.classList.remove("flash-up", "flash-down");
      row.classList.add(i % 4 < 2 ? "flash-up" : "flash-down");
    });
  });
}

/** The dashboard live, `width` px wide, with the mixed rows published. */
async function liveWithMixed(page: Page, dashboard: Dashboard, url: string, width = 1280): Promise<void> {
  await page.setViewportSize({ width, height: 844 });
  await expect(dashboard.status).toHaveAttribute("data-state", "live");
  await publishMixed(page, url);
  await expect(dashboard.rows).toHaveCount(9);
}

// No simulator: the rows stay as published and lit by hand while axe looks.
const quiet = ["--no-simulator", "--publish-token", PUBLISH_TOKEN];

test.describe("live, with lit rows, then paused", () => {
  test.use({ serverArgs: quiet });

  test("has no WCAG 2.1 AA violation", async ({ dashboard, page, server }) => {
    await expect(dashboard.status).toHaveAttribute("data-state", "live");
    await publishMixed(page, server.url);
    await expect(dashboard.rows).toHaveCount(9);
    await expect(page.getByTestId("change-pct").first()).not.toHaveText("0.00%");
    await lightRows(page);
    await expectAccessible(page, "live (lit rows)");

    await page.getByTestId("pause").click();
    await expect(dashboard.status).toHaveAttribute("data-state", "paused");
    await lightRows(page);
    await expectAccessible(page, "paused");
  });
});

test.describe("a row selected from the keyboard, then the list of keys open", () => {
  test.use({ serverArgs: quiet });

  for (const width of [1280, 390]) {
    test(`has no WCAG 2.1 AA violation at ${width} px`, async ({ dashboard, page, server }) => {
      await liveWithMixed(page, dashboard, server.url, width);
      await page.locator("body").press("ArrowDown");
      await expect(page.locator('tbody tr[aria-selected="true"]')).toHaveCount(1);
      await expectAccessible(page, "row selected");
      await page.keyboard.press("?");
      await expect(page.getByRole("dialog", { name: "Keys" })).toBeVisible();
      await expectAccessible(page, "keys open");
    });
  }
});

test.describe("a symbol's detail open, then an alert fired", () => {
  test.use({ serverArgs: quiet });

  for (const width of [1280, 390]) {
    test(`has no WCAG 2.1 AA violation at ${width} px`, async ({ dashboard, page, server }) => {
      await liveWithMixed(page, dashboard, server.url, width);
      await publish(page.request, server.url, [["AAA", 102.25]]);
      await dashboard.row("AAA").click();
      const detail = page.getByRole("dialog", { name: "AAA" });
      await expect(detail).toBeVisible();
      // Its candles are drawn (one, or two across a minute's turn).
      await expect(detail.locator("[data-testid=candle]").first()).toBeVisible();
      await detail.getByLabel("Alert above").fill("103");
      await detail.getByRole("button", { name: "Set alert" }).click();
      await expect(detail.getByTestId("alert-list")).toContainText("AAA above 103.00");
      // Full screen on a phone.
      if (width === 390) {
        expect((await detail.boundingBox())?.width).toBe(390);
      }
      await expectAccessible(page, "detail open");
      await page.keyboard.press("Escape");
      await publish(page.request, server.url, [["AAA", 103.5]]);
      await expect(page.getByRole("alert")).toHaveText(/AAA rose above 103\.00: 103\.50/);
      await lightRows(page);
      await expectAccessible(page, "alert shown");
    });
  }
});

test.describe("shared by two tabs", () => {
  test.use({ serverArgs: quiet });

  test("has no WCAG 2.1 AA violation", async ({ dashboard, context, page, server }) => {
    await expect(dashboard.status).toHaveAttribute("data-state", "live");
    await publishMixed(page, server.url);
    const second = await context.newPage();
    await second.goto(server.url);
    for (const tab of [page, second]) {
      await expect(tab.getByTestId("connection-status")).toHaveText("Live · shared by 2 tabs");
      await lightRows(tab);
      await expectAccessible(tab, "shared");
    }
  });
});

test.describe("stale, then reconnecting", () => {
  // Stale after 2.5 silent heartbeat intervals (5 s), reopened after 6 (12 s):
  // the page stays stale for 7 s, time for both audits on a busy machine.
  test.use({ serverArgs: [...quiet, "--heartbeat-ms", "2000", "--retry-ms", "30000"] });

  test("has no WCAG 2.1 AA violation", async ({ dashboard, server, page }) => {
    await expect(dashboard.status).toHaveAttribute("data-state", "live");
    await publishMixed(page, server.url);
    await expect(dashboard.rows).toHaveCount(9);
    server.pause();
    try {
      await expect(dashboard.status).toHaveAttribute("data-state", "stale");
      await dashboard.recordStates();
      await lightRows(page);
      await expectAccessible(page, "stale");
      // The audit saw the stale page and nothing else.
      expect(await page.evaluate(() => (window as unknown as { seenStates: string[] }).seenStates)).toEqual([
        "stale",
      ]);
    } finally {
      server.resume();
    }
    await server.stop();
    await expect(dashboard.status).toHaveAttribute("data-state", "reconnecting");
    await lightRows(page);
    await expectAccessible(page, "reconnecting");
  });
});

test.describe("busy", () => {
  test.use({ serverArgs: [...quiet, "--max-streams-per-ip", "1", "--retry-ms", "30000"] });

  test("has no WCAG 2.1 AA violation", async ({ dashboard, browser, server, page }) => {
    await expect(dashboard.status).toHaveAttribute("data-state", "live");
    await publishMixed(page, server.url);
    await expect(dashboard.rows).toHaveCount(9);
    // Another browser (the tabs of one share one stream).
    const otherBrowser = await browser.newContext({ bypassCSP: true });
    const second = await otherBrowser.newPage();
    await second.goto(server.url);
    const other = new Dashboard(second);
    await expect(other.status).toHaveText(/^Server busy, retrying/);
    await lightRows(second);
    await expectAccessible(second, "busy");
    await otherBrowser.close();
  });
});

test.describe("empty", () => {
  test.use({ serverArgs: ["--no-simulator"] });

  test("has no WCAG 2.1 AA violation", async ({ dashboard, page }) => {
    await expect(dashboard.status).toHaveAttribute("data-state", "live");
    await expect(page.getByText("No prices yet")).toBeVisible();
    await expectAccessible(page, "empty");
  });
});
