// Plays the first person to open Ferrogram's dashboard, in a real Chromium driven by
// playwright-core: opens the one-time setup link, creates the owner's account, signs out, signs
// in again, looks at the sessions page, creates a bot from a template with its Telegram token,
// sees it running in the bots list, stops it, opens its history, switches to Russian and to the
// dark theme, and runs axe-core on each page (no serious or critical violation). crates/server/tests/dashboard_browser.rs
// starts the server on a real SQLite store, runs this script and checks the store afterwards.
// Every step waits for what the page must show (locators wait; nothing sleeps).
//
// Env: BASE_URL (no trailing slash), SETUP_PATH (/setup/TOKEN), CHROMIUM (the browser's
// executable), SHOTS (a folder for the screenshots), EMAIL, PASSWORD, BOT_TOKEN (a token the
// Bot API the server checks tokens against accepts).
import { chromium } from 'playwright-core';
import { Steps, accessible as axe, check, watch } from './browser_steps.mjs';

const { BASE_URL: base, SETUP_PATH: setup, CHROMIUM: executablePath, SHOTS: shots, EMAIL: email, PASSWORD: password, BOT_TOKEN: token } = process.env;
const STEP_TIMEOUT = 30_000;

const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
const context = await browser.newContext({ viewport: { width: 1000, height: 800 }, locale: 'en-US' });
const page = await context.newPage();
page.setDefaultTimeout(STEP_TIMEOUT);
const problems = watch(page);
const steps = new Steps();
const step = (name, body) => steps.step(name, body);
async function shot(name) {
  await page.screenshot({ path: `${shots}/dashboard-${name}.png`, fullPage: true });
}
// axe-core on the page as it is (browser_steps.mjs).
const accessible = (what) => axe(page, what);

try {
  await step('open the setup link', async () => {
    await page.goto(`${base}${setup}`);
    await page.getByRole('heading', { name: "Create the owner's account" }).waitFor();
    await accessible('the setup page');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Your name').fill('Olga Owner');
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByLabel('Password again').fill(password);
    await shot('setup');
  });

  await step('create the owner: signed in, owner of the workspace', async () => {
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.getByRole('heading', { name: 'Hello, Olga Owner' }).waitFor();
    await page.getByRole('cell', { name: 'default', exact: true }).waitFor();
    await page.getByRole('cell', { name: 'owner' }).waitFor();
    await accessible('the home page');
    await shot('home');
  });

  await step('the sessions page lists this one', async () => {
    await page.getByRole('link', { name: 'Sessions' }).click();
    await page.getByRole('heading', { name: 'Your sessions' }).waitFor();
    await page.getByText('(this one)').waitFor();
    await accessible('the sessions page');
    await shot('sessions');
  });

  await step('sign out', async () => {
    await page.getByRole('navigation').getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await accessible('the sign-in page');
    await shot('sign-in');
    await page.goto(`${base}/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    check(new URL(page.url()).pathname === '/sign-in', `signed out, / leads to the sign-in page, not ${page.url()}`);
  });

  await step('the setup link does not work twice', async () => {
    const response = await page.request.get(`${base}${setup}`);
    check(response.status() === 404, `the used link answers ${response.status()}`);
  });

  await step('sign in again', async () => {
    await page.getByLabel('Email').fill(email.toUpperCase());
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Hello, Olga Owner' }).waitFor();
  });

  await step('open the workspace\'s bots: none yet', async () => {
    await page.getByRole('link', { name: 'Bots of default' }).click();
    await page.getByRole('heading', { name: 'Bots of default' }).waitFor();
    await page.getByText('No bot yet.').waitFor();
    await accessible('the empty bots page');
  });

  await step('create a bot from a template, with its token', async () => {
    await page.getByRole('link', { name: 'New bot' }).click();
    await page.getByRole('heading', { name: 'New bot' }).waitFor();
    await page.getByRole('radio', { name: /menu-form/ }).check();
    await page.getByLabel('Name', { exact: true }).fill('shop');
    await page.getByLabel('Telegram token').fill(token);
    check(await page.getByLabel('Start it now').isChecked(), 'starting at once is the default');
    await accessible('the new bot page');
    await shot('new-bot');
    await page.getByRole('button', { name: 'Create the bot' }).click();
    await page.getByRole('heading', { name: 'Bots of default' }).waitFor();
  });

  await step('the bot is in the list, running, with its sparkline', async () => {
    const row = page.locator('tr[data-bot="shop"]');
    await row.getByText('running').waitFor();
    await row.getByRole('img', { name: '0 updates in the last 24 hours' }).waitFor();
    check(!(await page.content()).includes(token.split(':')[1]), 'the token is never shown');
    await accessible('the bots page');
    await shot('bots');
  });

  await step('stop it', async () => {
    await page.getByRole('button', { name: 'Stop shop' }).click();
    await page.locator('tr[data-bot="shop"]').getByText('stopped').waitFor();
    await page.getByRole('button', { name: 'Start shop' }).waitFor();
    await shot('bots-stopped');
  });

  await step('open its history', async () => {
    await page.getByRole('link', { name: 'History of shop' }).click();
    await page.getByRole('heading', { name: 'shop', exact: true }).waitFor();
    await page.getByRole('rowheader', { name: 'v1 (current)' }).waitFor();
    await page.getByRole('cell', { name: 'Olga Owner' }).waitFor();
    await accessible('the history page');
    await shot('history');
    await page.getByRole('link', { name: 'Home' }).click();
    await page.getByRole('heading', { name: 'Hello, Olga Owner' }).waitFor();
  });

  await step('switch to Russian and to the dark theme', async () => {
    await page.getByRole('link', { name: /Русский/ }).click();
    await page.getByRole('heading', { name: 'Здравствуйте, Olga Owner' }).waitFor();
    check(await page.locator('html').getAttribute('lang') === 'ru', 'the page says it is in Russian');
    await page.getByRole('link', { name: 'Тема: Тёмная' }).click();
    await page.locator('html[data-theme="dark"]').waitFor();
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    check(background === 'rgb(15, 20, 25)', `the dark background, not ${background}`);
    await accessible('the home page, in Russian and dark');
    await shot('home-ru-dark');
  });

  await step('the bots page in Russian and dark', async () => {
    await page.getByRole('link', { name: 'Боты пространства default' }).click();
    await page.getByRole('heading', { name: 'Боты пространства default' }).waitFor();
    await page.locator('tr[data-bot="shop"]').getByText('остановлен').waitFor();
    await accessible('the bots page, in Russian and dark');
    await shot('bots-ru-dark');
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
