#!/usr/bin/env node
// End to end in Chromium: a dispatcher declares an outage by drawing it on
// the console's map, and follows it to the end.
//
//   node tests/browser/declare.mjs <base_url> <out_dir> <username> <password>
//
// A resident reports no supply at an address from the status page; the
// dispatcher signs in and sees it on the map; on /console/new picks the
// utility and draws a rectangle of four
// clicks with Geoman's polygon tool over the first two addresses of the test
// town; waits for the live preview and checks it against the API's preview of
// the same area; reviews (the SMS shows its segment count), sends, then hands
// over to the test: every `STEP <name> <json>` line on stdout waits for one
// line on stdin, after which the test has moved the server's clock and run its
// workers. Then it watches the dashboard reach "sent" without reloading, moves
// the ETR by +1 hour and restores, each through its review. axe-core (WCAG 2.1
// A/AA) runs on the map, review and outage pages; screenshots go to out_dir.
//
// Exit status: 0 done; 1 a check failed; 2 the browser could not run.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { SetupError, launch, newContext, runAxe } from './chromium.mjs';

const [base, outDir, username, password] = process.argv.slice(2);
if (!password) {
  console.error('usage: node declare.mjs <base_url> <out_dir> <username> <password>');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

class Failed extends Error {}
function check(ok, what) {
  if (!ok) throw new Failed(what);
}

// Tells the test where we are and waits until it has done its part.
async function step(name, data) {
  console.log(`STEP ${name} ${JSON.stringify(data)}`);
  const answer = await lines.next();
  check(!answer.done, `the test stopped answering after ${name}`);
}

async function axeClean(page, what) {
  const violations = await runAxe(page);
  check(
    violations.length === 0,
    `axe on ${what}: ${violations.map((v) => `${v.id} (${v.help}): ${v.nodes.map((n) => n.target).join(', ')}`).join('; ')}`,
  );
}

async function shot(page, name) {
  await page.screenshot({ path: join(outDir, `declare-${name}.png`), fullPage: true });
}

async function numberIn(page, selector) {
  const text = (await page.textContent(selector)) || '';
  return Number(text.replace(/[^0-9]/g, ''));
}

async function main() {
  const browser = await launch();
  const blocked = new Set();
  const context = await newContext(browser, base, { viewport: { width: 1280, height: 900 } }, blocked);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  // A resident first: "no supply" at Kossuth Lajos utca 6 (T5), from the
  // status page's search result.
  await page.goto(`${base}/search?q=Kossuth+Lajos+utca+6`);
  await page.click('details summary');
  await page.selectOption('select[name="utility"]', 'water');
  await Promise.all([page.waitForURL(/\/report$/), page.click('form[action="/report"] button[type=submit]')]);
  check((await page.textContent('main')).includes('the dispatchers see your report'), 'the report is answered');

  await page.goto(`${base}/console/login`);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(/\/console$/), page.click('button[type=submit]')]);

  // The map: its tools, the address points (drawn from the register), and
  // no request outside the server (everything is vendored).
  await page.goto(`${base}/console/new`);
  await page.waitForSelector('.leaflet-pm-toolbar');
  await page.waitForSelector('#map[data-points-shown="100"]');
  // The resident's report is on the map.
  await page.waitForSelector('#map[data-reports-shown="1"]');
  await page.selectOption('#utility', 'water');
  const away = await page.evaluate(() =>
    [...document.querySelectorAll('a[href]')].map((a) => a.href).filter((h) => new URL(h).origin !== location.origin));
  check(away.length === 0, `links off the server on the map page: ${away.join(', ')}`);
  await axeClean(page, 'the map page');
  await shot(page, 'map');

  // Draw: the polygon tool, four corners around T0 and T1, back to the first.
  await page.click('.leaflet-pm-icon-polygon');
  const corners = [
    [46.9995, 18.9995],
    [46.9995, 19.0015],
    [47.0005, 19.0015],
    [47.0005, 18.9995],
  ];
  const box = await page.locator('#map').boundingBox();
  const points = await page.evaluate(
    (cs) => cs.map((c) => window.heraldMap.latLngToContainerPoint(c)).map((p) => [p.x, p.y]),
    corners,
  );
  for (const [x, y] of [...points, points[0]]) {
    await page.mouse.click(box.x + x, box.y + y);
  }
  await page.waitForSelector('#preview[data-state="done"]');
  const shown = {
    addresses: await numberIn(page, '[data-preview="addresses"]'),
    email: await numberIn(page, '[data-preview="email"]'),
    sms: await numberIn(page, '[data-preview="sms"]'),
  };
  check(shown.addresses === 2, `the preview shows ${JSON.stringify(shown)} for T0 and T1`);
  // The API's preview of the very area the map wrote into the form.
  const api = await page.evaluate(async () => {
    const form = document.getElementById('declare');
    const r = await fetch('/api/v1/outages/preview', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': form.csrf.value },
      body: JSON.stringify({ utility: 'water', cause: 'preview', area: JSON.parse(form.area.value) }),
    });
    return r.json();
  });
  check(
    api.affected_addresses === shown.addresses && api.contacts.email === shown.email && api.contacts.sms === shown.sms,
    `the map's preview ${JSON.stringify(shown)} differs from the API's ${JSON.stringify(api)}`,
  );
  await shot(page, 'drawn');

  // Review: every language's messages, the SMS with its segment count.
  await page.fill('#cause', 'Water main burst');
  await Promise.all([page.waitForURL(/\/console\/new\/review$/), page.click('#declare button[type=submit]')]);
  const counts = await page.locator('.sms-count').allTextContents();
  check(counts.length === 3 && counts.every((c) => /\d+ SMS/.test(c)), `SMS counts on the review: ${counts}`);
  check((await page.textContent('#reach')).includes('2 addresses'), 'the review states the reach');
  await axeClean(page, 'the declaration review');
  await shot(page, 'review');

  // Send: the outage page, with its undo offer while the messages wait.
  await Promise.all([
    page.waitForURL(/\/console\/o\/[A-Z0-9-]+\?declared=1$/),
    page.click('form[action="/console/new/apply"] button[type=submit]'),
  ]);
  const reference = page.url().match(/\/console\/o\/([A-Z0-9-]+)/)[1];
  check(await page.isVisible('form[action$="/undo"]'), 'the undo offer shows');
  await axeClean(page, 'the new outage page');
  await shot(page, 'declared');
  await step('declared', { reference, ...shown });

  // The test sent everything: the dashboard gets there by itself.
  await page.waitForFunction(
    (n) => document.querySelector('[data-live="email-sent"]').textContent === String(n.email)
      && document.querySelector('[data-live="sms-sent"]').textContent === String(n.sms),
    shown,
    { timeout: 20_000 },
  );
  await shot(page, 'dashboard');

  // +1 hour, reviewed and sent.
  await page.goto(`${base}/console/o/${reference}`);
  await Promise.all([page.waitForURL(/\/review$/), page.click('button:text-is("+1 hour")')]);
  check((await page.textContent('.summary')).includes('→'), 'the ETR review shows before → after');
  await axeClean(page, 'the ETR review');
  await Promise.all([page.waitForURL(/\?done=1$/), page.click('form[action$="/apply"] button[type=submit]')]);
  await step('etr', { reference });

  // Restored, reviewed and sent.
  await Promise.all([page.waitForURL(/\/review$/), page.click('button:text-is("Mark as restored")')]);
  await Promise.all([page.waitForURL(/\?done=1$/), page.click('form[action$="/apply"] button[type=submit]')]);
  await shot(page, 'restored');
  await step('restored', { reference });

  check(errors.length === 0, `script errors: ${errors.join('; ')}`);
  check(blocked.size === 0, `requests outside the server: ${[...blocked].join(', ')}`);
  await browser.close();
}

const watchdog = setTimeout(() => {
  console.error('declare.mjs: still running after 4 minutes');
  process.exit(1);
}, 4 * 60_000);

main().then(
  () => {
    clearTimeout(watchdog);
    process.exit(0);
  },
  (e) => {
    console.error(e instanceof Failed ? `FAILED: ${e.message}` : e.stack || String(e));
    process.exit(e instanceof SetupError ? 2 : 1);
  },
);
