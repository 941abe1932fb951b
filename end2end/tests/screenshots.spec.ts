import { test, expect } from "./fixtures";
import path from "node:path";

// Refreshes the README's screenshot: `UPDATE_SCREENSHOTS=1 make e2e`.
test.skip(!process.env.UPDATE_SCREENSHOTS, "set UPDATE_SCREENSHOTS=1 to refresh docs/");

test.use({ serverArgs: ["--seed", "2024", "--rate", "20"] });

test("dashboard screenshot for the README", async ({ dashboard, page }) => {
  await expect(dashboard.status).toHaveAttribute("data-state", "live");
  await dashboard.expectPricesToMoveFrom(await dashboard.prices());
  await page.screenshot({ path: path.join(__dirname, "..", "..", "docs", "dashboard.png") });
});
