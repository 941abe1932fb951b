import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

/** The front-end benchmark (`make bench-ui`): the suite's browser settings, its
 * own directory, one run at a time so nothing else shares the cores. */
export default defineConfig({
  ...base,
  testDir: "./bench",
  testMatch: "**/*.bench.ts",
  timeout: 300_000,
  workers: 1,
  fullyParallel: false,
  reporter: [["list"]],
});
