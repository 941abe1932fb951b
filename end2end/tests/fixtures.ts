import { test as base, expect, APIRequestContext, APIResponse, BrowserContext, Page, Locator } from "@playwright/test";
import { ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const repo = path.resolve(__dirname, "..", "..");

/**
 * The server binary under test: $TICKERTAPE_BIN, or the newer of the release and
 * debug builds (`cargo leptos build [--release]` writes both the binary and target/site).
 */
function serverBinary(): string {
  if (process.env.TICKERTAPE_BIN) return path.resolve(process.env.TICKERTAPE_BIN);
  const builds = ["release", "debug"]
    .map((profile) => path.join(repo, "target", profile, "tickertape"))
    .filter((bin) => existsSync(bin))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (builds.length === 0) throw new Error("no tickertape binary: run `cargo leptos build` first");
  return builds[0];
}

/** A real tickertape process on 127.0.0.1, on a port it binds itself.
 *
 * How it ends is checked: a server that exits by itself, exits non-zero after
 * SIGTERM, or panics at any time is a problem, and `check()` (called by
 * `stop()`, and by the `server` fixture at the end of every test) throws with
 * the end of its log. */
export class TickertapeServer {
  private process?: ChildProcess;
  /** Everything it printed (the last 256 KB), for a failure's message. */
  private log = "";
  /** The signal the test sent it, so the exit that follows is expected. */
  private asked: NodeJS.Signals | null = null;
  /** What went wrong, in words; checked by `check()`. */
  readonly problems: string[] = [];
  port = 0;

  constructor(private readonly args: string[]) {}

  /** `https` when the server was started with TLS (it says so when it listens). */
  scheme = "http";

  get url(): string {
    return `${this.scheme}://127.0.0.1:${this.port}`;
  }

  /** Starts the server (on a free port the first time, on the same port after) and
   * resolves once it logs that it is listening. */
  async start(extraArgs: string[] = []): Promise<void> {
    const child = spawn(serverBinary(), [...this.args, ...extraArgs], {
      env: {
        ...process.env,
        LEPTOS_SITE_ADDR: `127.0.0.1:${this.port}`,
        LEPTOS_SITE_ROOT: process.env.TICKERTAPE_SITE_ROOT ?? path.join(repo, "target", "site"),
        NO_COLOR: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.process = child;
    this.asked = null;
    const startedAt = this.log.length;
    child.once("exit", (code, signal) => {
      const asked = this.asked;
      const expected = asked === "SIGKILL" ? signal === "SIGKILL" : asked !== null && code === 0;
      if (!expected) {
        const how = code !== null ? `with status ${code}` : `on ${signal}`;
        this.problems.push(`tickertape exited ${how} ${asked ? `after ${asked}` : "by itself"}`);
      }
    });
    this.port = await new Promise<number>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        const text = chunk.toString();
        this.log = (this.log + text).slice(-256 * 1024);
        if (/panicked at/.test(text)) this.problems.push(`tickertape panicked: ${text.trim().slice(0, 500)}`);
        const match = this.log.slice(startedAt).match(/listening on (https?):\/\/127\.0\.0\.1:(\d+)/);
        if (match && !this.port) {
          this.scheme = match[1];
          resolve(Number(match[2]));
        } else if (match) {
          resolve(this.port);
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
      child.once("exit", (code) => reject(new Error(`tickertape exited (${code}):\n${this.log.slice(startedAt)}`)));
    });
  }

  /** The process id, while it runs. */
  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Freezes the process (SIGSTOP): connections stay open, nothing is sent. */
  pause(): void {
    this.process?.kill("SIGSTOP");
  }

  /** Lets a paused process run again (SIGCONT). */
  resume(): void {
    this.process?.kill("SIGCONT");
  }

  /** Kills the server (SIGKILL: no notice, no goodbye) and waits for it to exit. */
  kill(): Promise<void> {
    return this.end("SIGKILL");
  }

  /** Stops the server with SIGTERM, waits for the process to exit, and checks
   * that it ended well (status 0, no panic). */
  async stop(): Promise<void> {
    await this.end("SIGTERM");
    this.check();
  }

  /** Throws if anything went wrong with the server so far. */
  check(): void {
    if (this.problems.length > 0) {
      throw new Error(`${this.problems.join("\n")}\n--- its log ends ---\n${this.log.slice(-4000)}`);
    }
  }

  /** Sends `signal` to a running server and waits for it to exit. */
  private async end(signal: NodeJS.Signals): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    this.asked = signal;
    // A stopped process takes no SIGTERM until it runs again.
    child.kill("SIGCONT");
    child.kill(signal);
    await exited;
  }
}

/** A free port on 127.0.0.1, for a process that cannot bind port 0 and say
 * which it got (Redis, nginx). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Waits until something accepts connections on 127.0.0.1:`port`, while
 * `child` runs (its early exit is an error, with its output). */
async function listening(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${child.spawnfile} exited (${child.exitCode ?? child.signalCode}):\n${output()}`);
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listens on ${port}:\n${output()}`);
}

/** A helper process of a test (Redis, nginx) in a temporary folder of its own,
 * killed and its folder removed by `stop()`. */
class Helper {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly dir: string,
  ) {}

  /** Starts `command` with `args(port, dir)` and waits until it listens. */
  static async start(command: string, args: (port: number, dir: string) => string[]): Promise<Helper> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "tickertape-e2e-"));
    const port = await freePort();
    const child = spawn(command, args(port, dir), { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (chunk) => (output += chunk));
    child.stderr!.on("data", (chunk) => (output += chunk));
    await listening(port, child, () => output);
    return new Helper(child, port, dir);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once("exit", resolve));
      this.child.kill();
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A Redis of the test's own, nothing saved. */
export async function startRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const redis = await Helper.start("redis-server", (port, dir) => [
    "--port", `${port}`, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
  ]);
  return { url: `redis://127.0.0.1:${redis.port}`, stop: () => redis.stop() };
}

/** Debian's nginx serving `site` (a server block whose `listen` line says
 * `listen 127.0.0.1:PORT;`, PORT replaced with the one it gets). */
export async function startNginx(site: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const root = process.getuid?.() === 0 ? "user root;" : "";
  const nginx = await Helper.start("/usr/sbin/nginx", (port, dir) => {
    writeFileSync(path.join(dir, "site.conf"), site.replace("listen 127.0.0.1:PORT;", `listen 127.0.0.1:${port};`));
    writeFileSync(
      path.join(dir, "nginx.conf"),
      `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nworker_processes 1;\nevents { worker_connections 256; }\n` +
        `http { access_log off; client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; ` +
        `fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi; ` +
        `include ${dir}/site.conf; }\n`,
    );
    return ["-p", dir, "-c", path.join(dir, "nginx.conf"), "-e", path.join(dir, "error.log"), "-g", `daemon off; ${root}`];
  });
  return { url: `http://127.0.0.1:${nginx.port}`, stop: () => nginx.stop() };
}

/**
 * A TCP proxy on 127.0.0.1 in front of the server, as an operator's proxy would
 * be, that a test can use to cut every connection or answer 503 to new ones.
 */
export class CuttingProxy {
  private readonly server = net.createServer((client) => this.accept(client));
  private readonly sockets = new Set<net.Socket>();
  private refusing: number | false = false;
  port = 0;

  constructor(private readonly target: () => number) {}

  /** `https` when the server was started with TLS (it says so when it listens). */
  scheme = "http";

  get url(): string {
    return `${this.scheme}://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Drops every open connection, as a network failure would. */
  cutAll(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  /** While set to a status, new connections get it as the whole answer (browsers
   * then close their EventSource for good); `false` lets them through again. */
  refuse(status: number | false): void {
    this.refusing = status;
  }

  async stop(): Promise<void> {
    this.cutAll();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(client: net.Socket): void {
    if (this.refusing !== false) {
      const status = this.refusing;
      client.once("data", () =>
        client.end(`HTTP/1.1 ${status} Refused\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`),
      );
      return;
    }
    const upstream = net.connect(this.target(), "127.0.0.1");
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ]) {
      this.sockets.add(a);
      a.pipe(b);
      a.on("error", () => b.destroy());
      a.on("close", () => {
        this.sockets.delete(a);
        b.destroy();
      });
    }
  }
}

/** The dashboard, as a viewer sees it. */
export class Dashboard {
  readonly status: Locator;
  readonly rows: Locator;
  readonly reconnects: Locator;
  readonly lastEventId: Locator;
  readonly recovery: Locator;
  readonly notice: Locator;
  readonly reconnectButton: Locator;

  constructor(readonly page: Page) {
    this.status = page.getByTestId("connection-status");
    this.recovery = page.getByTestId("recovery");
    this.notice = page.getByTestId("notice");
    this.reconnectButton = page.getByRole("button", { name: "Reconnect" });
    this.rows = page.getByTestId("ticker-table").locator("tbody").getByTestId("quote-row");
    this.reconnects = page.getByTestId("reconnect-count");
    this.lastEventId = page.getByTestId("last-event-id");
  }

  row(symbol: string): Locator {
    return this.rows.and(this.page.locator(`[data-symbol="${symbol}"]`));
  }

  /** Starts recording every state the status pill passes through, so a state that
   * lasts less than a polling interval is still seen (see `expectStatesSeen`). */
  async recordStates(): Promise<void> {
    await this.status.evaluate((pill) => {
      const seen: string[] = [pill.getAttribute("data-state") ?? ""];
      (window as unknown as { seenStates: string[] }).seenStates = seen;
      new MutationObserver(() => {
        const state = pill.getAttribute("data-state") ?? "";
        if (seen[seen.length - 1] !== state) seen.push(state);
      }).observe(pill, { attributes: true, attributeFilter: ["data-state"] });
    });
  }

  /** Waits until the pill has passed through `states` in this order (other states may
   * come between them) since `recordStates`. */
  async expectStatesSeen(states: string[]): Promise<void> {
    await expect
      .poll(async () => {
        const seen = await this.page.evaluate(
          () => (window as unknown as { seenStates: string[] }).seenStates,
        );
        let next = 0;
        for (const state of seen) if (state === states[next]) next += 1;
        return { seen, inOrder: next === states.length };
      })
      .toMatchObject({ inOrder: true });
  }

  /** Every row's price, by symbol. */
  async prices(): Promise<Record<string, string>> {
    const entries = await this.rows.evaluateAll((rows) =>
      rows.map((row) => [
        row.getAttribute("data-symbol") ?? "",
        row.querySelector("[data-testid=price]")?.textContent ?? "",
      ]),
    );
    return Object.fromEntries(entries);
  }

  /** Waits until the table shows exactly `GET /api/snapshot` of `serverUrl`: the
   * same symbols in the same order, at the same prices, at the same event id. */
  async expectToEqualSnapshot(serverUrl: string): Promise<void> {
    await expect(async () => {
      const shownId = await this.lastEventId.textContent();
      const snapshot = await (await this.page.request.get(`${serverUrl}/api/snapshot`)).json();
      expect(shownId).toBe(snapshot.lastEventId);
      const shown = Object.entries(await this.prices()).map(([symbol, text]) => [
        symbol,
        Number(text.replace(/[^\d.]/g, "")),
      ]);
      const expected = snapshot.quotes.map((q: { symbol: string; price: number }) => [
        q.symbol,
        Number(q.price.toFixed(2)),
      ]);
      expect(shown).toEqual(expected);
    }).toPass({ timeout: 15_000 });
  }

  /** Waits until some price differs from `before`. */
  async expectPricesToMoveFrom(before: Record<string, string>): Promise<void> {
    await expect
      .poll(async () => {
        const now = await this.prices();
        return Object.keys(now).filter((symbol) => now[symbol] !== before[symbol]).length;
      })
      .toBeGreaterThan(0);
  }
}

/** The publish token the specs start their servers with (`--publish-token`). */
export const PUBLISH_TOKEN = "e2e-publish-token-0123456789";

/** `POST /api/prices` of `data` (any JSON) to the server at `url`, with `token`. */
export function postPrices(
  request: APIRequestContext,
  url: string,
  data: unknown,
  token: string = PUBLISH_TOKEN,
): Promise<APIResponse> {
  return request.post(`${url}/api/prices`, {
    headers: { Authorization: `Bearer ${token}` },
    data,
  });
}

/** Publishes `prices` (symbol, price) to the server at `url` and expects them
 * taken (200). */
export async function publish(request: APIRequestContext, url: string, prices: [string, number][]): Promise<void> {
  const response = await postPrices(
    request,
    url,
    prices.map(([symbol, price]) => ({ symbol, price })),
  );
  expect(response.status(), await response.text()).toBe(200);
}

/** The value of `sample` (labels included, as `/metrics` writes it) on the
 * server at `url`; `NaN` when the server has no such sample. */
export async function metric(request: APIRequestContext, url: string, sample: string): Promise<number> {
  const text = await (await request.get(`${url}/metrics`)).text();
  const line = text.split("\n").find((line) => line.startsWith(`${sample} `));
  return line === undefined ? NaN : Number(line.slice(sample.length + 1));
}

/** The viewports the docs' screenshots are taken at. */
export const screenshotSizes = {
  desktop: { width: 1280, height: 820 },
  phone: { width: 390, height: 844 },
};

/** Collects what must never happen in a page: uncaught errors, and anything the
 * Content-Security-Policy blocked (the WASM app must work under it). Every
 * page of every test is watched (the `pageErrors` fixture); this is for
 * a test that wants to check a page's errors at a point of its own. */
export function watchForErrors(page: Page, errors: string[] = []): string[] {
  page.on("pageerror", (error) => errors.push(`${page.url()}: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && /Content Security Policy/i.test(message.text())) {
      errors.push(`${page.url()}: ${message.text()}`);
    }
  });
  return errors;
}

type Fixtures = {
  serverArgs: string[];
  server: TickertapeServer;
  dashboard: Dashboard;
  pageErrors: string[];
};

export const test = base.extend<Fixtures>({
  serverArgs: [[], { option: true }],

  server: async ({ serverArgs }, use) => {
    const server = new TickertapeServer(serverArgs);
    await server.start();
    await use(server);
    await server.stop();
  },

  /** Every page the test opens, in its own context or in any context it makes
   * with `browser.newContext()`, is watched; the test fails on any uncaught page
   * error (a broken WASM build fails at hydration without any other sign) or CSP
   * violation. */
  pageErrors: [
    async ({ browser, context }, use) => {
      const errors: string[] = [];
      const watch = (watched: BrowserContext) => {
        for (const page of watched.pages()) watchForErrors(page, errors);
        watched.on("page", (page) => watchForErrors(page, errors));
      };
      watch(context);
      const newContext = browser.newContext;
      browser.newContext = async (...options) => {
        const made = await newContext.apply(browser, options);
        watch(made);
        return made;
      };
      try {
        await use(errors);
      } finally {
        browser.newContext = newContext;
      }
      expect(errors, "uncaught errors or CSP violations in a page").toEqual([]);
    },
    { auto: true },
  ],

  /** Opens the dashboard. */
  dashboard: async ({ page, server }, use) => {
    await page.goto(server.url);
    await use(new Dashboard(page));
  },
});

export { expect };
