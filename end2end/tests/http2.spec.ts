import { test, expect, Dashboard } from "./fixtures";

// HTTPS with HTTP/2 (`--tls-self-signed`): the page and every stream share one
// connection, so ten streams on one page all flow (over HTTP/1.1 a browser
// allows six connections per origin, and the seventh would hang).
test.use({
  serverArgs: ["--tls-self-signed", "--symbols", "AAPL,MSFT", "--rate", "20"],
  ignoreHTTPSErrors: true,
});

test("the dashboard loads over h2 and ten streams on one page all receive", async ({ page, server }) => {
  expect(server.url).toMatch(/^https:/);
  await page.goto(server.url);
  const dashboard = new Dashboard(page);
  await expect(dashboard.status).toHaveAttribute("data-state", "live");
  const protocol = await page.evaluate(
    () => (performance.getEntries()[0] as PerformanceNavigationTiming).nextHopProtocol,
  );
  expect(protocol).toBe("h2");

  const received = await page.evaluate(async () => {
    const sources = Array.from({ length: 10 }, () => new EventSource("/events"));
    const counts = await Promise.all(
      sources.map(
        (source) =>
          new Promise<number>((resolve) => {
            let n = 0;
            source.addEventListener("priceUpdate", () => {
              n += 1;
              if (n === 3) resolve(n);
            });
          }),
      ),
    );
    sources.forEach((source) => source.close());
    return counts;
  });
  expect(received).toEqual(Array(10).fill(3));
});

test("over HTTPS the watchlist cookie the page sets is Secure, like the server's", async ({ page, server, context }) => {
  await page.goto(server.url);
  const dashboard = new Dashboard(page);
  await expect(dashboard.status).toHaveAttribute("data-state", "live");
  await page.getByTestId("watchlist").locator("summary").click();
  await page.locator('input[data-symbol="MSFT"]').uncheck();
  await expect
    .poll(async () => (await context.cookies()).find((cookie) => cookie.name === "tickertape_watchlist"))
    .toMatchObject({ value: "AAPL", secure: true, sameSite: "Lax" });
});
