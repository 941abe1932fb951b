import { test, expect, Dashboard, PUBLISH_TOKEN, TickertapeServer, metric, publish } from "./fixtures";
import { ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

// Two instances sharing a Redis, behind nginx with the documented cluster site
// (docs/nginx/cluster.conf): the instance serving the dashboard is killed, and
// the dashboard resumes on the other, exactly.

const repo = path.resolve(__dirname, "..", "..");

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function listening(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** A process of ours (Redis, nginx), killed at the end. */
async function run(command: string, args: string[], port: number): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: "ignore" });
  await listening(port);
  return child;
}

test("the dashboard behind nginx resumes on another instance when its own is killed", async ({ page }) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tickertape-cluster-"));
  const redisPort = await freePort();
  const redis = await run(
    "redis-server",
    ["--port", `${redisPort}`, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    redisPort,
  );
  const args = (name: string) => [
    "--broker", `redis://127.0.0.1:${redisPort}`, "--instance", name,
    "--no-simulator", "--publish-token", PUBLISH_TOKEN, "--retry-ms", "2000",
  ];
  const instances = [new TickertapeServer(args("a")), new TickertapeServer(args("b"))];
  for (const instance of instances) await instance.start();

  // The documented site, pointed at these two instances and a free port.
  const nginxPort = await freePort();
  let site = readFileSync(path.join(repo, "docs", "nginx", "cluster.conf"), "utf8");
  site = site
    .replace(/server 127\.0\.0\.1:3011 /, `server 127.0.0.1:${instances[0].port} `)
    .replace(/server 127\.0\.0\.1:3012 /, `server 127.0.0.1:${instances[1].port} `)
    .replace(/\s*server 127\.0\.0\.1:3013 [^\n]*/, "")
    .replace("listen 127.0.0.1:8080;", `listen 127.0.0.1:${nginxPort};`);
  writeFileSync(path.join(dir, "site.conf"), site);
  const root = process.getuid?.() === 0 ? "user root;" : "";
  writeFileSync(
    path.join(dir, "nginx.conf"),
    `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nworker_processes 1;\nevents { worker_connections 256; }\n` +
      `http { access_log off; client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; ` +
      `fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi; ` +
      `include ${dir}/site.conf; }\n`,
  );
  const nginx = await run(
    "/usr/sbin/nginx",
    ["-p", dir, "-c", path.join(dir, "nginx.conf"), "-e", path.join(dir, "error.log"), "-g", `daemon off; ${root}`],
    nginxPort,
  );

  try {
    await publish(page.request, instances[0].url, [["AAPL", 100], ["MSFT", 200], ["NVDA", 300]]);
    await page.goto(`http://127.0.0.1:${nginxPort}/`);
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
    nginx.kill();
    for (const instance of instances) await instance.stop();
    redis.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
