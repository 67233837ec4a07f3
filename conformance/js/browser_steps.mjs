// What the browser scripts (web_chat_user.mjs, dashboard_user.mjs) share around their steps:
// the page's problems collected (errors thrown by its scripts, console errors, answers of 400 or
// more), named steps whose name a failure reports, and a check that fails with what it expected.

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
