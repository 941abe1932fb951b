import { test, expect, Dashboard, PUBLISH_TOKEN, TickertapeServer, metric, publish, startNginx, startRedis } from "./fixtures";
import { readFileSync } from "node:fs";
import path from "node:path";

// Two instances sharing a Redis, behind nginx with the documented cluster site
// (docs/nginx/cluster.conf): the instance serving the dashboard is killed, and
// the dashboard resumes on the other, exactly.

const repo = path.resolve(__dirname, "..", "..");

test("the dashboard behind nginx resumes on another instance when its own is killed", async ({ page }) => {
  const redis = await startRedis();
  const args = (name: string) => [
    "--broker", redis.url, "--instance", name,
    "--no-simulator", "--publish-token", PUBLISH_TOKEN, "--retry-ms", "2000",
  ];
  const instances = [new TickertapeServer(args("a")), new TickertapeServer(args("b"))];
  for (const instance of instances) await instance.start();

  // The documented site, pointed at these two instances.
  const site = readFileSync(path.join(repo, "docs", "nginx", "cluster.conf"), "utf8")
    .replace(/server 127\.0\.0\.1:3011 /, `server 127.0.0.1:${instances[0].port} `)
    .replace(/server 127\.0\.0\.1:3012 /, `server 127.0.0.1:${instances[1].port} `)
    .replace(/\s*server 127\.0\.0\.1:3013 [^\n]*/, "")
    .replace("listen 127.0.0.1:8080;", "listen 127.0.0.1:PORT;");
  const nginx = await startNginx(site);

  try {
    await publish(page.request, instances[0].url, [["AAPL", 100], ["MSFT", 200], ["NVDA", 300]]);
    await page.goto(`${nginx.url}/`);
    const dashboard = new Dashboard(page);
    await expect(dashboard.status).toHaveAttribute("data-state", "live");
    await expect(dashboard.rows).toHaveCount(3);

    // Which instance serves the stream?
    const streams = async (instance: TickertapeServer) => {
      return (await metric(page.request, instance.url, "tickertape_streams")) || 0;
    };
    let serving = -1;
    await expect
      .poll(async () => {
        const counts = await Promise.all(instances.map(streams));
        serving = counts.indexOf(1);
        return counts.reduce((a, b) => a + b);
      })
      .toBe(1);
    const survivor = instances[1 - serving];
    await dashboard.recordStates();

    // Killed mid-stream; prices go on on the other instance before the browser is back.
    await instances[serving].kill();
    await publish(page.request, survivor.url, [["AAPL", 101], ["MSFT", 201], ["AAPL", 102]]);

    await dashboard.expectStatesSeen(["live", "reconnecting", "live"]);
    await expect(dashboard.recovery).toHaveText("resumed, 3 missed updates replayed");
    await dashboard.expectToEqualSnapshot(survivor.url);
    await page.screenshot({ path: test.info().outputPath("cluster-after-failover.png") });
  } finally {
    await nginx.stop();
    for (const instance of instances) await instance.stop();
    await redis.stop();
  }
});
