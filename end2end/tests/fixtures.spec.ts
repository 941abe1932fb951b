import { test, expect, TickertapeServer } from "./fixtures";

// The launcher itself: a server that ends badly fails the test that started it.

test("a server that dies by itself is a problem the test sees", async () => {
  const server = new TickertapeServer([]);
  await server.start();
  process.kill(server.pid!, "SIGABRT");
  await expect.poll(() => server.problems).toEqual(["tickertape exited on SIGABRT by itself"]);
  expect(() => server.check()).toThrow(/exited on SIGABRT by itself[\s\S]*its log ends/);
});

test("a server stopped with SIGTERM ends cleanly, and one killed on purpose is no problem", async () => {
  const server = new TickertapeServer([]);
  await server.start();
  await server.stop();
  expect(server.problems).toEqual([]);
  await server.start();
  await server.kill();
  expect(server.problems).toEqual([]);
});

// Each of these fails in the `pageErrors` fixture's teardown, as it must.
test("an uncaught error in the test's page fails the test", async ({ page }) => {
  test.fail();
  await page.setContent("<script>throw new Error('boom')</script>");
});

test("an uncaught error in a page of a context the test made fails the test", async ({ browser }) => {
  test.fail();
  const other = await browser.newContext();
  const page = await other.newPage();
  await page.setContent("<script>throw new Error('boom')</script>");
  await other.close();
});
