// Drives the WebSocket echo page in headless Chromium, as a person would:
// opens http://ADDR/, waits for the page to connect back, types a message
// into the page's own input, clicks Send, waits for the echo with its
// round-trip time, and takes a screenshot.
//
// node websocket_page.cjs ADDR SCREENSHOT.png USER_DATA_DIR
// (playwright-core found through NODE_PATH; Chromium at
// ECHO_REACTOR_CHROMIUM or /usr/bin/chromium). Prints one JSON line.
"use strict";
const { chromium } = require("playwright-core");

async function main() {
  const [addr, screenshot, userDataDir] = process.argv.slice(2);
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.ECHO_REACTOR_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport: { width: 720, height: 480 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    const outside = [];
    page.on("request", (request) => {
      if (!request.url().startsWith(`http://${addr}/`) && !request.url().startsWith(`ws://${addr}/`)) {
        outside.push(request.url());
      }
    });
    await page.goto(`http://${addr}/`, { timeout: 15000 });
    await page.waitForSelector("#status.open", { timeout: 15000 });
    const messages = ["Hello from Chromium", "κόσμε, and a second echo"];
    for (const message of messages) {
      await page.fill("#message", message);
      await page.click("#send");
    }
    await page.waitForFunction(
      (count) => document.querySelectorAll("li.echo").length === count,
      messages.length,
      { timeout: 15000 },
    );
    const echoes = await page.$$eval("li.echo", (items) =>
      items.map((item) => ({
        text: item.firstChild.textContent,
        rtt: item.querySelector(".rtt").textContent,
      })),
    );
    await page.screenshot({ path: screenshot });
    console.log(JSON.stringify({ echoes, outside }));
  } finally {
    await context.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
