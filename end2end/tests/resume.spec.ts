import { test as base, expect, Dashboard, CuttingProxy } from "./fixtures";

// The dashboard behind a proxy that can cut connections without restarting the
// server, so the stream comes back to the same run and can resume.
const test = base.extend<{ cutter: CuttingProxy; viaProxy: Dashboard }>({
  cutter: async ({ server }, use) => {
    const proxy = new CuttingProxy(() => server.port);
    await proxy.start();
    await use(proxy);
    await proxy.stop();
  },
  viaProxy: async ({ page, cutter: proxy }, use) => {
    await page.goto(proxy.url);
    await use(new Dashboard(page));
  },
});

test.use({ serverArgs: ["--symbols", "AAPL,MSFT,NVDA", "--rate", "40", "--retry-ms", "500"] });

test("a dropped connection resumes and says how many updates it replayed", async ({ viaProxy, cutter: proxy }) => {
  const dashboard = viaProxy;
  await expect(dashboard.status).toHaveAttribute("data-state", "live");

  proxy.cutAll();

  await expect(dashboard.reconnects).toHaveText("1");
  await expect(dashboard.status).toHaveAttribute("data-state", "live");
  // ~0.5 s of retry at 40 updates/s: some were missed, and all of them replayed.
  await expect(dashboard.recovery).toHaveText(/^resumed, [1-9]\d* missed updates? replayed$/);
});

test("a refused reconnect (403) is Closed; the button reconnects and resumes from the last id", async ({
  viaProxy,
  cutter: proxy,
  server,
  page,
}) => {
  const dashboard = viaProxy;
  await expect(dashboard.status).toHaveAttribute("data-state", "live");

  proxy.refuse(403);
  proxy.cutAll();

  await expect(dashboard.status).toHaveAttribute("data-state", "closed");
  await expect(dashboard.status).toHaveText("Closed");
  await expect(dashboard.reconnectButton).toBeVisible();
  await page.screenshot({ path: test.info().outputPath("closed.png") });
  const stoppedAt = await dashboard.lastEventId.textContent();
  const resumes = Number((await (await page.request.get(`${server.url}/api/stats`)).json()).resumed);

  proxy.refuse(false);
  await dashboard.reconnectButton.click();

  await expect(dashboard.status).toHaveAttribute("data-state", "live");
  await expect(dashboard.recovery).toHaveText(/^resumed, [1-9]\d* missed updates? replayed$/);
  await expect(dashboard.lastEventId).not.toHaveText(stoppedAt!);
  // The server saw a resume, not a fresh connection.
  const stats = await (await page.request.get(`${server.url}/api/stats`)).json();
  expect(stats.resumed).toBe(resumes + 1);
});

test("a proxy's 503 is \"server busy\": retried by itself, no button needed", async ({ viaProxy, cutter: proxy }) => {
  const dashboard = viaProxy;
  await expect(dashboard.status).toHaveAttribute("data-state", "live");
  await dashboard.recordStates();

  proxy.refuse(503);
  proxy.cutAll();

  await expect(dashboard.status).toHaveText(/^Server busy, retrying… \(attempt \d+\)$/);
  await expect(dashboard.reconnectButton).toHaveCount(0);
  proxy.refuse(false);
  await expect(dashboard.status).toHaveAttribute("data-state", "live", { timeout: 20_000 });
  await expect(dashboard.recovery).toHaveText(/^resumed, [1-9]\d* missed updates? replayed$/);
  await dashboard.expectStatesSeen(["live", "reconnecting", "live"]);
});
