// What the browser scripts (web_chat_user.mjs, dashboard_*.mjs) share around their steps:
// the page's problems collected (errors thrown by its scripts, console errors, answers of 400 or
// more), named steps whose name a failure reports, a check that fails with what it expected, and
// axe-core's accessibility check.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

// Collects the page's problems from now on, into the returned array.
export function watch(page) {
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`); });
  return problems;
}

// Runs named steps; `current` is the name of the last one started (the one a failure is in).
export class Steps {
  current = '';

  async step(name, body) {
    this.current = name;
    console.log(`step: ${name}`);
    await body();
  }
}

export function check(condition, what) {
  if (!condition) throw new Error(what);
}

// axe-core's source, read on first use.
let axeSource;

// axe-core on the page as it is: serious and critical violations fail with their rules and
// nodes; every violation is logged. `iframes: false` leaves framed pages out (another site with
// its own browser test, as the code view's try-it chat).
export async function accessible(page, what, { iframes = true } = {}) {
  axeSource ??= await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(axeSource);
  const result = await page.evaluate((iframes) => globalThis.axe.run(document, { resultTypes: ['violations'], iframes }), iframes);
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of result.violations) console.log(`axe (${what}): ${v.impact} ${v.id}: ${v.help} (${v.nodes.length} nodes)`);
  check(bad.length === 0, `axe found serious violations on ${what}: ${bad.map((v) => `${v.id} ${v.nodes.map((n) => n.target).join(' ')}`).join('; ')}`);
}
