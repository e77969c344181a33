// What the real-browser checks share: Debian's Chromium driven by
// playwright-core (no browser download: the machine reaches only the package
// registries), a context that reaches the server under test and nothing else,
// and axe-core's WCAG 2.0/2.1 A and AA rules.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');
const AXE_PATH = require.resolve('axe-core/axe.min.js');

export const CHROMIUM = '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps trying the closed
// network; --no-sandbox because CI runs as root.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/** The check could not run at all (no browser, no java, server unreachable). */
export class SetupError extends Error {}

export async function launch() {
  try {
    return await chromium.launch({
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      timeout: 60_000,
    });
  } catch (e) {
    throw new SetupError(
      `cannot launch ${CHROMIUM} (run scripts/browser-setup): ${e.message}`,
    );
  }
}

// A context that lets the page reach the server under test only; any other
// request is aborted and added to `blocked`. `cookie` (name=value) is sent.
export async function newContext(browser, base, options, blocked, { cookie = '', timeout = 30_000 } = {}) {
  const context = await browser.newContext({ ...options, locale: 'en-US' });
  context.setDefaultTimeout(timeout);
  const origin = new URL(base).origin;
  if (cookie) {
    const [name, ...value] = cookie.split('=');
    await context.addCookies([{ name, value: value.join('='), url: origin }]);
  }
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    let o;
    try {
      o = new URL(url).origin;
    } catch {
      o = '';
    }
    if (o === origin) return route.continue();
    blocked.add(url);
    return route.abort('blockedbyclient');
  });
  return context;
}

// The page's axe-core violations of AXE_TAGS.
export async function runAxe(page) {
  await page.addScriptTag({ path: AXE_PATH });
  return page.evaluate(async (tags) => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, {
      runOnly: { type: 'tag', values: tags },
      resultTypes: ['violations'],
    });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({
        target: n.target.map((t) => (Array.isArray(t) ? t.join(' >>> ') : t)).join(' '),
        html: n.html,
        summary: n.failureSummary,
      })),
    }));
  }, AXE_TAGS);
}
