// Plays an editor sending a broadcast from Ferrogram's dashboard, in a real Chromium driven by
// playwright-core: signs in, opens the bot's broadcasts page, composes a broadcast (a text
// greeting each user by name, a link button, an audience by a variable), watches the live
// preview (the text as the first user gets it and how many users would get it; an audience
// that holds nobody is said so), sends it, and waits on its page, which polls its progress,
// until the progress bar (role=progressbar) reaches 100 % and the page stops polling; then looks at it in Russian and
// dark. axe-core runs on each page (no serious or critical violation); no console error and no
// failed request may happen. crates/server/tests/dashboard_browser_broadcast.rs starts the
// server, the bot and the broadcast runner, runs this script and checks what the users got.
// Every step waits for what the page must show (locators wait; nothing sleeps).
//
// Env: BASE_URL (no trailing slash), WORKSPACE (its id), CHROMIUM (the browser's executable),
// SHOTS (a folder for the screenshots), EMAIL and PASSWORD (an editor of the workspace).
import { chromium } from 'playwright-core';
import { Steps, accessible as axe, check, watch } from './browser_steps.mjs';

const { BASE_URL: base, WORKSPACE: workspace, CHROMIUM: executablePath, SHOTS: shots, EMAIL: email, PASSWORD: password } = process.env;
const STEP_TIMEOUT = 30_000;

const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, locale: 'en-US' });
const page = await context.newPage();
page.setDefaultTimeout(STEP_TIMEOUT);
const problems = watch(page);
const steps = new Steps();
const step = (name, body) => steps.step(name, body);
async function shot(name) {
  await page.screenshot({ path: `${shots}/broadcast-${name}.png`, fullPage: true });
}
// axe-core on the page as it is (browser_steps.mjs).
const accessible = (what) => axe(page, what);

try {
  await step('sign in', async () => {
    await page.goto(`${base}/sign-in`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Hello, Erin Editor' }).waitFor();
  });

  await step('open the bot\'s broadcasts from the bots list', async () => {
    await page.goto(`${base}/w/${workspace}/bots`);
    await page.getByRole('link', { name: 'Broadcasts of news' }).click();
    await page.getByRole('heading', { name: 'Broadcasts of news' }).waitFor();
    await page.getByText('No broadcast yet.').waitFor();
    await page.getByText('Type a text to see it as a user gets it.').waitFor();
    await accessible('the empty broadcasts page');
  });

  await step('an audience that holds nobody is said so in the preview', async () => {
    await page.locator('#bc-text').fill('Hello {{ from.first_name }}, welcome to {{ user.plan }}!');
    await page.locator('#bc-variables').fill('plan = gold');
    await page.locator('#audience-count').getByText('No user is in this audience').waitFor();
    await accessible('the preview of an empty audience');
    await shot('preview-empty');
  });

  await step('compose: the live preview shows the first user\'s text, the button and the count', async () => {
    await page.locator('#bc-buttons').fill('Open the shop | https://shop.example/');
    await page.locator('#bc-variables').fill('plan = pro');
    await page.locator('#audience-count').getByText('3 users will get it.').waitFor();
    await page.locator('.bubble').getByText('Hello Ann, welcome to pro!').waitFor();
    await page.getByRole('list', { name: 'Buttons' }).getByText('Open the shop').waitFor();
    await page.getByText(/As Ann \(id \d+\) gets it/).waitFor();
    await accessible('the compose form with its preview');
    await shot('compose');
  });

  await step('send it: its page\'s progress bar is polled until it reaches 100 %, then no more', async () => {
    // Sending takes seconds (the test slows the sandbox): the page polls its progress.
    const polled = page.waitForResponse((r) => r.url().endsWith('/progress') && r.status() === 200);
    await page.getByRole('button', { name: 'Send the broadcast' }).click();
    await page.getByRole('heading', { name: /^Broadcast #\d+$/ }).waitFor();
    const first = Number(await page.getByRole('progressbar').getAttribute('aria-valuenow'));
    check(first < 100, `the page opens while it is still sending (${first} %)`);
    await polled;
    const bar = page.getByRole('progressbar', { name: 'Progress' });
    await bar.waitFor();
    check(await bar.getAttribute('aria-valuemin') === '0' && await bar.getAttribute('aria-valuemax') === '100', 'the bar\'s range is 0 to 100');
    await page.locator('[role="progressbar"][aria-valuenow="100"]').waitFor();
    await page.locator('#state').getByText('done').waitFor();
    check(await page.locator('#count-sent').textContent() === '3', 'three sent');
    check(await page.locator('#count-failed').textContent() === '0', 'none failed');
    check((await page.locator('#percent').textContent()).startsWith('100'), 'it says 100 %');
    const valuetext = await bar.getAttribute('aria-valuetext');
    check(valuetext.includes('3 sent'), `the bar says what was sent: ${valuetext}`);
    check(await page.locator('#progress[hx-trigger]').count() === 0, 'a finished broadcast is not polled');
    check(await page.getByRole('button', { name: 'Cancel the broadcast' }).count() === 0, 'nothing to cancel once done');
    await accessible('the broadcast\'s page, done');
    await shot('progress-done');
  });

  await step('the broadcast in Russian and dark', async () => {
    await page.getByRole('link', { name: /Русский/ }).click();
    await page.getByRole('heading', { name: /^Рассылка №\d+$/ }).waitFor();
    await page.getByRole('link', { name: 'Тема: Тёмная' }).click();
    await page.locator('html[data-theme="dark"]').waitFor();
    await page.locator('#state').getByText('завершена').waitFor();
    await accessible('the broadcast\'s page, in Russian and dark');
    await shot('broadcast-ru-dark');
  });

  await step('the list in Russian and dark', async () => {
    await page.getByRole('link', { name: /Рассылки бота news/ }).click();
    await page.getByRole('heading', { name: 'Рассылки бота news' }).waitFor();
    await page.locator('tr[data-broadcast]').getByText('завершена').waitFor();
    await page.getByText('Введите текст, чтобы увидеть его глазами пользователя.').waitFor();
    await accessible('the broadcasts page, in Russian and dark');
    await shot('list-ru-dark');
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
