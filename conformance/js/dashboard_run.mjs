// Plays a workspace owner running a bot from the dashboard, in a real Chromium driven by
// playwright-core: signs in, opens the bot's users, searches one and blocks them, opens a
// collection, filters it, edits a record (a bad value first: said next to its field, nothing
// saved; then a good one), looks at the bot's charts, the workspace's members, and the charts
// again in Russian and dark. axe-core runs on each page (no serious or critical violation); the
// pages log no error and no request fails but the one refused form.
// crates/server/tests/dashboard_browser_run.rs starts the server on a real SQLite store with
// the bot and its data, runs this script and checks the store afterwards. Every step waits for
// what the page must show (locators wait; nothing sleeps).
//
// Env: BASE_URL (no trailing slash), CHROMIUM (the browser's executable), SHOTS (a folder for
// the screenshots), EMAIL, PASSWORD.
import { chromium } from 'playwright-core';
import { Steps, accessible as axe, check, watch } from './browser_steps.mjs';

const { BASE_URL: base, CHROMIUM: executablePath, SHOTS: shots, EMAIL: email, PASSWORD: password } = process.env;
const STEP_TIMEOUT = 30_000;

const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
const context = await browser.newContext({ viewport: { width: 1100, height: 800 }, locale: 'en-US' });
const page = await context.newPage();
page.setDefaultTimeout(STEP_TIMEOUT);
const problems = watch(page);
const steps = new Steps();
const step = (name, body) => steps.step(name, body);
async function shot(name) {
  await page.screenshot({ path: `${shots}/dashboard-run-${name}.png`, fullPage: true });
}
// axe-core on the page as it is (browser_steps.mjs).
const accessible = (what) => axe(page, what);

try {
  await step('sign in', async () => {
    await page.goto(`${base}/sign-in`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: /^Hello, / }).waitFor();
  });

  await step('open the bot, then its users', async () => {
    await page.getByRole('link', { name: 'Bots of home' }).click();
    await page.getByRole('link', { name: 'History of shop' }).click();
    await page.getByRole('heading', { name: 'shop', exact: true }).waitFor();
    await page.getByRole('navigation', { name: 'Pages of shop' }).getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { name: 'Users of shop' }).waitFor();
    check(await page.locator('tr[data-user]').count() === 3, 'three users listed');
    await accessible('the users page');
    await shot('users');
  });

  await step('search a user', async () => {
    await page.getByLabel('Search').fill('bob');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('tr[data-user="22"]').waitFor();
    check(await page.locator('tr[data-user]').count() === 1, 'only Bob matches "bob"');
    check(new URL(page.url()).searchParams.get('search') === 'bob', `the search is in the address: ${page.url()}`);
  });

  await step('open Bob and block him', async () => {
    await page.getByRole('link', { name: 'Bob', exact: true }).click();
    await page.getByRole('heading', { name: /^Bob/ }).waitFor();
    await page.getByText('user.score').waitFor();
    await accessible('a user\'s page');
    await page.getByRole('button', { name: 'Block Bob' }).click();
    await page.locator('#user-status').getByText('blocked', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Unblock Bob' }).waitFor();
    await accessible('a blocked user\'s page');
    await shot('user-blocked');
  });

  await step('open the orders collection and filter it', async () => {
    await page.getByRole('navigation', { name: 'Pages of shop' }).getByRole('link', { name: 'Collections' }).click();
    await page.getByRole('heading', { name: 'Collections of shop' }).waitFor();
    await accessible('the collections page');
    await page.getByRole('link', { name: 'orders', exact: true }).click();
    await page.getByRole('heading', { name: /^orders/ }).waitFor();
    check(await page.locator('tr[data-record]').count() === 4, 'four orders');
    await page.getByRole('link', { name: 'Sort by qty' }).click();
    await page.locator('th[aria-sort="ascending"]').waitFor();
    await page.getByLabel('Field').selectOption('title');
    await page.getByLabel('Value').fill('tea');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.locator('tr[data-record]').first().getByText('tea', { exact: true }).waitFor();
    check(await page.locator('tr[data-record]').count() === 1, 'one order is tea');
    await accessible('a collection\'s table');
    await shot('collection');
  });

  await step('a bad value is said next to its field and nothing is saved', async () => {
    await page.getByRole('link', { name: /^Edit record / }).click();
    await page.getByRole('heading', { name: /^Record \d+ of orders$/ }).waitFor();
    await accessible('a record\'s form');
    const before = problems.length;
    await page.getByLabel(/^qty/).fill('many');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('[data-field="qty"]').getByText('is not a whole number').waitFor();
    check(await page.getByLabel(/^qty/).getAttribute('aria-invalid') === 'true', 'the field is marked invalid');
    await accessible('a refused record\'s form');
    await shot('record-refused');
    // The refused form is a 422: the one failed request this script expects.
    const refused = problems.splice(before);
    check(refused.every((p) => p.includes('422')), `only the refused form failed: ${refused.join('; ')}`);
  });

  await step('a good value is saved', async () => {
    await page.getByLabel(/^qty/).fill('7');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').getByText('Saved.').waitFor();
    check(await page.getByLabel(/^qty/).inputValue() === '7', 'the saved value is shown');
    await shot('record-saved');
  });

  await step('see the charts', async () => {
    await page.getByRole('navigation', { name: 'Pages of shop' }).getByRole('link', { name: 'Charts' }).click();
    await page.getByRole('heading', { name: 'Charts of shop' }).waitFor();
    await page.getByRole('img', { name: 'Updates per day' }).waitFor();
    await page.getByRole('img', { name: 'Active users per day' }).waitFor();
    await page.getByRole('img', { name: 'Reply latency' }).waitFor();
    await page.getByRole('img', { name: 'Errors per day' }).waitFor();
    const box = await page.getByRole('img', { name: 'Updates per day' }).boundingBox();
    check(box && box.width > 300 && box.height > 100, `the chart is drawn large enough: ${JSON.stringify(box)}`);
    check(await page.locator('svg.chart polyline').count() > 0, 'lines are drawn');
    await page.getByText('The numbers, day by day').click();
    await page.locator('#stats-table').waitFor();
    await accessible('the charts page');
    await shot('charts');
  });

  await step('the workspace\'s members', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Members' }).click();
    await page.getByRole('heading', { name: 'Members of home' }).waitFor();
    await page.getByRole('button', { name: 'Make the link' }).waitFor();
    await accessible('the members page');
    await shot('members');
  });

  await step('the charts in Russian and dark', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: 'Overview of home' }).waitFor();
    await page.getByRole('link', { name: /Русский/ }).click();
    await page.getByRole('heading', { name: 'Обзор пространства home' }).waitFor();
    await page.getByRole('link', { name: 'Тема: Тёмная' }).click();
    await page.locator('html[data-theme="dark"]').waitFor();
    await page.getByRole('img', { name: 'Обновления по дням' }).waitFor();
    await accessible('the overview, in Russian and dark');
    await shot('overview-ru-dark');
  });

  check(problems.length === 0, `the pages logged problems:\n${problems.join('\n')}`);
  console.log('ok');
} catch (error) {
  console.error(`failed at step "${steps.current}": ${error.message}`);
  if (problems.length) console.error(problems.join('\n'));
  await shot('failure').catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
