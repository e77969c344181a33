#!/usr/bin/env node
// Real-browser check of Herald's public status pages.
//
//   node tests/browser/check.mjs <base_url> <out_dir> <path1> [path2 ...]
//
// For every path, in Debian's Chromium (driven by playwright-core):
//   - full-page screenshots at desktop (1280x900) and phone (390x844) size:
//     <out_dir>/<slug>-desktop.png, <out_dir>/<slug>-phone.png;
//   - axe-core with the WCAG 2.0/2.1 A and AA rules, at both sizes;
//   - keyboard: the first Tab focuses the skip link (a.skip), which then shows;
//   - reflow (WCAG 1.4.10, which axe does not test): no horizontal scrolling;
// and the page's raw HTML, fetched without a browser, goes through the Nu HTML
// Checker (vnu.jar from the vnu-jar package, run with the system's java).
//
// Exit status: 0 when every page is clean; 1 when any page has an axe violation,
// an HTML error, a failed keyboard check, horizontal scrolling or a non-2xx status; 2 when the check
// itself could not run (no browser, no java, server unreachable).
//
// With HERALD_CHECK_COOKIE=name=value (a console session), the browser and the
// raw fetch both send that cookie, so signed-in pages can be checked.
//
// The machine has no outside network: only the server under test is reached;
// any other request the page makes is blocked and reported.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { AXE_TAGS, SetupError, launch, newContext as contextFor, runAxe } from './chromium.mjs';

const require = createRequire(import.meta.url);
const VNU_JAR = String(require('vnu-jar'));

const VIEWPORTS = [
  { name: 'desktop', options: { viewport: { width: 1280, height: 900 } } },
  {
    name: 'phone',
    options: {
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    },
  },
];
const NAV_TIMEOUT_MS = 30_000;
const COOKIE = process.env.HERALD_CHECK_COOKIE || '';
const WATCHDOG_MS = 8 * 60_000;

function usage() {
  console.error('usage: node check.mjs <base_url> <out_dir> <path1> [path2 ...]');
  process.exit(2);
}

// "/" -> "home", "/o/WA-2024-1" -> "o-WA-2024-1", "/?lang=hu" -> "home-lang-hu".
function slugFor(path, taken) {
  let s = path
    .replace(/^\/+/, '')
    .replace(/^\?/, 'home?')
    .replace(/%[0-9A-Fa-f]{2}/g, '-')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80)
    .replace(/-+$/, '');
  if (!s) s = 'home';
  let slug = s;
  for (let n = 2; taken.has(slug); n++) slug = `${s}-${n}`;
  taken.add(slug);
  return slug;
}

function indent(text, prefix) {
  return String(text)
    .split('\n')
    .map((l) => prefix + l)
    .join('\n');
}

function oneLine(text, max = 300) {
  const t = String(text ?? '').replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

// ---------------------------------------------------------------- browser --

// A context for the check: its cookie, its timeout.
function newContext(browser, base, options, blocked) {
  return contextFor(browser, base, options, blocked, { cookie: COOKIE, timeout: NAV_TIMEOUT_MS });
}

async function open(page, url, result) {
  const response = await page.goto(url, { waitUntil: 'load' });
  const status = response ? response.status() : 0;
  if (status < 200 || status > 299) {
    result.problems.push(`GET ${url} answered ${status}`);
  }
  // Web fonts or late layout: let the page settle before measuring.
  await page.evaluate(() => document.fonts && document.fonts.ready);
  return status;
}

// Horizontal scrolling at this width (WCAG 1.4.10 Reflow, which axe does not
// test): the page's width and the innermost elements that stick out.
async function overflow(page) {
  return page.evaluate(() => {
    const vw = document.documentElement.clientWidth;
    const width = document.documentElement.scrollWidth;
    if (width <= vw) return null;
    const name = (el) => {
      let s = el.tagName.toLowerCase();
      if (el.id) s += `#${el.id}`;
      else if (typeof el.className === 'string' && el.className.trim()) {
        s += `.${el.className.trim().split(/\s+/).join('.')}`;
      }
      const p = el.parentElement;
      return p && p !== document.body ? `${name(p)} > ${s}` : s;
    };
    const out = [...document.body.querySelectorAll('*')].filter((el) => {
      if (el.getBoundingClientRect().right <= vw + 0.5) return false;
      return ![...el.children].some((c) => c.getBoundingClientRect().right > vw + 0.5);
    });
    return {
      vw,
      width,
      culprits: out.slice(0, 5).map((el) => `${name(el)} (right edge ${Math.round(el.getBoundingClientRect().right)} px)`),
    };
  });
}


// The first Tab must land on the skip link, which must then be on screen.
async function keyboardCheck(page, url, result, shotPath) {
  await page.goto(url, { waitUntil: 'load' });
  await page.keyboard.press('Tab');
  const f = await page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return { tag: 'body' };
    const r = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    const href = el.getAttribute('href') || '';
    return {
      tag: el.tagName.toLowerCase(),
      cls: el.className || '',
      text: (el.textContent || '').trim(),
      href,
      isSkip: el.matches('a.skip'),
      targetExists: href.startsWith('#') && !!document.getElementById(href.slice(1)),
      rect: { x: r.left, y: r.top, w: r.width, h: r.height },
      vw: window.innerWidth,
      vh: window.innerHeight,
      visibility: cs.visibility,
      display: cs.display,
      opacity: Number(cs.opacity),
      clip: cs.clipPath,
    };
  });
  const describe = (x) =>
    x.tag === 'body'
      ? 'nothing (focus stayed on <body>)'
      : `<${x.tag}${x.cls ? ` class="${x.cls}"` : ''}> "${oneLine(x.text, 60)}"`;
  if (!f.isSkip) {
    result.keyboard = `first Tab focused ${describe(f)}, expected the skip link a.skip`;
    return;
  }
  const { x, y, w, h } = f.rect;
  const onScreen = w > 0 && h > 0 && x >= 0 && y >= 0 && x + w <= f.vw && y + h <= f.vh;
  const shown =
    onScreen && f.visibility !== 'hidden' && f.display !== 'none' && f.opacity > 0.1;
  if (!shown) {
    result.keyboard =
      `skip link focused but not visible: box ${Math.round(x)},${Math.round(y)} ` +
      `${Math.round(w)}x${Math.round(h)} in a ${f.vw}x${f.vh} viewport, ` +
      `visibility ${f.visibility}, display ${f.display}, opacity ${f.opacity}`;
    return;
  }
  if (!f.targetExists) {
    result.keyboard = `skip link href="${f.href}" points at no element id on the page`;
    return;
  }
  await page.screenshot({ path: shotPath });
  result.keyboardOk =
    `Tab → a.skip "${oneLine(f.text, 60)}" shown at ${Math.round(x)},${Math.round(y)} ` +
    `(${Math.round(w)}x${Math.round(h)}), target ${f.href} exists`;
}

async function checkInBrowser(browser, base, path, slug, outDir, result) {
  const url = new URL(path, base).href;
  for (const vp of VIEWPORTS) {
    const blocked = new Set();
    const context = await newContext(browser, base, vp.options, blocked);
    const page = await context.newPage();
    page.on('pageerror', (e) => result.warnings.push(`${vp.name}: page error: ${oneLine(e.message)}`));
    page.on('console', (m) => {
      if (m.type() === 'error') result.warnings.push(`${vp.name}: console error: ${oneLine(m.text())}`);
    });
    page.on('requestfailed', (r) => {
      if (!blocked.has(r.url())) {
        result.warnings.push(`${vp.name}: request failed: ${r.url()} (${r.failure()?.errorText})`);
      }
    });
    page.on('response', (r) => {
      if (r.status() >= 400 && r.url() !== url) {
        result.warnings.push(`${vp.name}: ${r.status()} for ${r.url()}`);
      }
    });
    try {
      await open(page, url, result);
      const shot = join(outDir, `${slug}-${vp.name}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      result.screenshots.push(shot);
      const o = await overflow(page);
      if (o) {
        result.problems.push(
          `${vp.name}: content is ${o.width} px wide in a ${o.vw} px viewport ` +
            `(horizontal scrolling, WCAG 1.4.10 Reflow): ${o.culprits.join('; ')}`,
        );
      }
      for (const v of await runAxe(page)) {
        let entry = result.axe.get(v.id);
        if (!entry) {
          entry = { ...v, nodes: new Map(), viewports: new Set() };
          result.axe.set(v.id, entry);
        }
        entry.viewports.add(vp.name);
        for (const n of v.nodes) {
          const seen = entry.nodes.get(n.target);
          if (seen) seen.viewports.add(vp.name);
          else entry.nodes.set(n.target, { ...n, viewports: new Set([vp.name]) });
        }
      }
      if (vp.name === 'desktop') {
        await keyboardCheck(page, url, result, join(outDir, `${slug}-desktop-skip.png`));
      }
    } catch (e) {
      result.problems.push(`${vp.name}: ${oneLine(e.message, 600)}`);
    } finally {
      for (const b of blocked) result.warnings.push(`${vp.name}: blocked off-site request ${b}`);
      await context.close();
    }
  }
}

// -------------------------------------------------------------------- vnu --

function run(cmd, args, input) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

async function fetchHtml(base, path) {
  const url = new URL(path, base).href;
  let r;
  try {
    const headers = { Accept: 'text/html' };
    if (COOKIE) headers.Cookie = COOKIE;
    r = await fetch(url, { headers, redirect: 'follow' });
  } catch (e) {
    throw new SetupError(`cannot fetch ${url}: ${e.cause?.code || e.message}`);
  }
  return { status: r.status, type: r.headers.get('content-type') || '', html: await r.text() };
}

// Validates every page's HTML in one java run; returns Map<slug, errors[]>.
async function validateHtml(pages) {
  const dir = mkdtempSync(join(tmpdir(), 'herald-vnu-'));
  const files = new Map();
  try {
    for (const p of pages) {
      const file = join(dir, `${p.slug}.html`);
      writeFileSync(file, p.html);
      files.set(file, p.slug);
    }
    let out;
    try {
      out = await run('java', [
        '-Xss8m',
        '-jar',
        VNU_JAR,
        '--errors-only',
        '--format',
        'json',
        '--exit-zero-always',
        ...files.keys(),
      ]);
    } catch (e) {
      throw new SetupError(`cannot run java for the Nu HTML Checker (run scripts/browser-setup): ${e.message}`);
    }
    const text = [out.stdout, out.stderr].find((t) => t.trim().startsWith('{'));
    if (!text) {
      throw new SetupError(
        `the Nu HTML Checker gave no JSON (exit ${out.code}):\n${out.stdout}${out.stderr}`,
      );
    }
    const byPage = new Map(pages.map((p) => [p.slug, []]));
    for (const m of JSON.parse(text).messages || []) {
      if (m.type !== 'error' && !(m.type === 'non-document-error')) continue;
      // Java names the file "file:/tmp/…"; match on the path.
      const file = m.url ? decodeURIComponent(m.url.replace(/^file:\/*/, '/')) : '';
      const slug = files.get(file);
      const list = slug ? byPage.get(slug) : null;
      if (list) list.push(m);
      else for (const l of byPage.values()) l.push(m);
    }
    return byPage;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ report --

function report(r) {
  const lines = [];
  const failed = r.failures() > 0;
  lines.push(`== ${r.path}  [${failed ? 'FAIL' : 'ok'}]  ${r.url}`);
  for (const p of r.problems) lines.push(`  page: ${p}`);
  lines.push(`  screenshots: ${r.screenshots.join(', ') || '(none)'}`);

  if (r.axe.size === 0) {
    lines.push(`  axe (${AXE_TAGS.join(', ')}): no violations`);
  } else {
    lines.push(`  axe (${AXE_TAGS.join(', ')}): ${r.axe.size} violated rule(s)`);
    for (const v of r.axe.values()) {
      lines.push(`    [${v.impact}] ${v.id}: ${v.help}  (${[...v.viewports].join(', ')})`);
      lines.push(`      ${v.helpUrl}`);
      for (const n of v.nodes.values()) {
        const where = n.viewports.size === v.viewports.size ? '' : `  (${[...n.viewports].join(', ')})`;
        lines.push(`      - ${n.target}${where}`);
        lines.push(`          html: ${oneLine(n.html, 200)}`);
        if (n.summary) lines.push(indent(n.summary.trim(), '          '));
      }
    }
  }

  if (r.keyboard) lines.push(`  keyboard: FAIL: ${r.keyboard}`);
  else if (r.keyboardOk) lines.push(`  keyboard: ok: ${r.keyboardOk}`);
  else lines.push('  keyboard: not checked');

  if (r.vnu === null) {
    lines.push('  html (Nu HTML Checker): not checked');
  } else if (r.vnu.length === 0) {
    lines.push('  html (Nu HTML Checker): no errors');
  } else {
    lines.push(`  html (Nu HTML Checker): ${r.vnu.length} error(s)`);
    for (const m of r.vnu) {
      const at = m.lastLine ? `line ${m.lastLine}${m.lastColumn ? `, col ${m.lastColumn}` : ''}` : 'document';
      lines.push(`    - ${at}: ${oneLine(m.message, 400)}`);
      if (m.extract) lines.push(`        extract: ${oneLine(m.extract, 200)}`);
    }
  }

  for (const w of [...new Set(r.warnings)]) lines.push(`  note: ${w}`);
  return lines.join('\n');
}

// -------------------------------------------------------------------- main --

async function main() {
  const [base, outDirArg, ...paths] = process.argv.slice(2);
  if (!base || !outDirArg || paths.length === 0) usage();
  try {
    new URL(base);
  } catch {
    usage();
  }
  const outDir = resolve(outDirArg);
  mkdirSync(outDir, { recursive: true });

  const taken = new Set();
  const results = paths.map((path) => ({
    path,
    slug: slugFor(path, taken),
    url: new URL(path, base).href,
    screenshots: [],
    axe: new Map(),
    keyboard: null,
    keyboardOk: null,
    vnu: null,
    html: null,
    problems: [],
    warnings: [],
    failures() {
      return (
        this.problems.length +
        this.axe.size +
        (this.keyboard ? 1 : 0) +
        (this.keyboardOk || this.keyboard ? 0 : 1) +
        (this.vnu === null ? 1 : this.vnu.length)
      );
    },
  }));

  // Raw HTML first: it also tells whether the server is there at all.
  for (const r of results) {
    const got = await fetchHtml(base, r.path);
    if (got.status < 200 || got.status > 299) r.problems.push(`fetch ${r.url} answered ${got.status}`);
    if (!got.type.startsWith('text/html')) r.problems.push(`fetch ${r.url}: content-type "${got.type}"`);
    r.html = got.html;
  }
  const vnu = await validateHtml(results.map((r) => ({ slug: r.slug, html: r.html })));
  for (const r of results) r.vnu = vnu.get(r.slug) ?? [];

  const browser = await launch();
  try {
    for (const r of results) {
      await checkInBrowser(browser, base, r.path, r.slug, outDir, r);
    }
  } finally {
    await browser.close();
  }

  const failed = results.filter((r) => r.failures() > 0);
  console.log(results.map(report).join('\n\n'));
  const axeCount = results.reduce((n, r) => n + [...r.axe.values()].reduce((m, v) => m + v.nodes.size, 0), 0);
  const vnuCount = results.reduce((n, r) => n + (r.vnu?.length ?? 0), 0);
  const kbCount = results.filter((r) => r.keyboard || !r.keyboardOk).length;
  const summary =
    `${results.length} page(s): ${axeCount} axe violation node(s), ` +
    `${vnuCount} HTML error(s), ${kbCount} keyboard failure(s); screenshots in ${outDir}`;
  if (failed.length > 0) {
    console.log(`\nbrowser check FAILED on ${failed.map((r) => r.path).join(', ')}: ${summary}`);
    return 1;
  }
  console.log(`\nbrowser check clean: ${summary}`);
  return 0;
}

const watchdog = setTimeout(() => {
  console.error(`browser check: gave up after ${WATCHDOG_MS / 1000} s`);
  process.exit(2);
}, WATCHDOG_MS);
watchdog.unref();

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    if (e instanceof SetupError) {
      console.error(`browser check could not run: ${e.message}`);
      process.exitCode = 2;
    } else {
      console.error(e && e.stack ? e.stack : e);
      process.exitCode = 1;
    }
  },
);
