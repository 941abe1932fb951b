import { test as base, expect, Page, Locator } from "@playwright/test";
import { ChildProcess, spawn } from "node:child_process";
import { existsSync, statSync } from "node:fs";
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

/** A real tickertape process on 127.0.0.1. */
export class TickertapeServer {
  private process?: ChildProcess;
  private output = "";
  port = 0;

  constructor(private readonly args: string[]) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the server (on a free port the first time, on the same port after) and
   * resolves once it logs that it is listening. */
  async start(extraArgs: string[] = []): Promise<void> {
    const child = spawn(serverBinary(), [...this.args, ...extraArgs], {
      env: {
        ...process.env,
        LEPTOS_SITE_ADDR: `127.0.0.1:${this.port}`,
        LEPTOS_SITE_ROOT: path.join(repo, "target", "site"),
        NO_COLOR: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.process = child;
    this.port = await new Promise<number>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        this.output += chunk.toString();
        const match = this.output.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
        if (match) {
          this.output = "";
          resolve(Number(match[1]));
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
      child.once("exit", (code) => reject(new Error(`tickertape exited (${code}):\n${this.output}`)));
    });
  }

  /** Stops the server with SIGTERM and waits for the process to exit. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }
}

/** The dashboard, as a viewer sees it. */
export class Dashboard {
  readonly status: Locator;
  readonly rows: Locator;
  readonly reconnects: Locator;
  readonly lastEventId: Locator;

  constructor(readonly page: Page) {
    this.status = page.getByTestId("connection-status");
    this.rows = page.getByTestId("ticker-table").locator("tbody").getByTestId("quote-row");
    this.reconnects = page.getByTestId("reconnect-count");
    this.lastEventId = page.getByTestId("last-event-id");
  }

  row(symbol: string): Locator {
    return this.rows.and(this.page.locator(`[data-symbol="${symbol}"]`));
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

type Fixtures = {
  serverArgs: string[];
  server: TickertapeServer;
  dashboard: Dashboard;
};

export const test = base.extend<Fixtures>({
  serverArgs: [[], { option: true }],

  server: async ({ serverArgs }, use) => {
    const server = new TickertapeServer(serverArgs);
    await server.start();
    await use(server);
    await server.stop();
  },

  /** Opens the dashboard and fails the test on any uncaught page error
   * (a broken WASM build fails at hydration without any other sign). */
  dashboard: async ({ page, server }, use) => {
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(server.url);
    await use(new Dashboard(page));
    expect(errors, "uncaught errors in the page").toEqual([]);
  },
});

export { expect };
