// Debian's chromium driven by playwright-core: never a downloaded browser. playwright's
// launch() gives every browser a fresh temporary profile (--user-data-dir) of its own.
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.GATEHOUSE_CHROMIUM || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM, headless: true, chromiumSandbox: false, args: CHROMIUM_ARGS,
    timeout: 30000,
  });
}

// A fresh context (own sessionStorage and cookies) that records every request any of its
// pages makes, to check that none leaves the gateway's origin.
export async function recordingContext(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const requests = [];
  context.on('request', (r) => requests.push(r.url()));
  context.setDefaultTimeout(10000);
  return { context, requests };
}
