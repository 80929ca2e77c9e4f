// The page's files from the server's own listener, with the server's default
// limits: a person who reloads the page a few times in a row gets the page
// each time, not a 429 for some of its files (a page is some twenty files,
// and an address may open 20 connections a second, 40 at once), and the
// files it already has are not sent again.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SoriServer, WAIT_MS, launchBrowser } from '../support.mjs';

let server;
let browser;

before(async () => {
  server = await SoriServer.create();
  await server.start();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.dispose();
});

test('reloading the page in a row loads it each time under the default connection limits, with 304s for the files it has', async () => {
  const context = await browser.newContext();
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();
  const files = new Set();
  const failed = [];
  let notModified = 0;
  page.on('response', (res) => {
    files.add(new URL(res.url()).pathname);
    if (res.status() >= 400) failed.push(`${res.status()} ${res.url()}`);
    if (res.status() === 304) notModified += 1;
  });
  page.on('requestfailed', (req) => failed.push(`${req.failure()?.errorText} ${req.url()}`));
  // Each time until the page is ready (its login form shown): a reload
  // before that aborts what it still fetches.
  await page.goto(server.url, { waitUntil: 'load' });
  await page.waitForSelector('#login-view:not([hidden])');
  for (let i = 0; i < 5; i++) {
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('#login-view:not([hidden])');
  }
  assert.deepEqual(failed, []);
  // It was really the whole page, six times.
  assert.ok(files.size >= 15, `the page's files: ${[...files].join(' ')}`);
  // A reload asks whether the files it has changed (ETag): most are not
  // sent again.
  assert.ok(notModified >= 5 * 10, `${notModified} answers 304 Not Modified over five reloads`);
  await context.close();
});
