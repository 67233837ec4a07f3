// Plays a user in the sandbox's web chat page, in a real Chromium driven by playwright-core.
// crates/sandbox/tests/web_chat.rs starts the sandbox, plays the bot over the Bot API, runs this
// script and checks the updates the bot received. Every step here waits for what the page must
// show (locators wait; nothing sleeps) and fails with what it was waiting for.
//
// Env: SANDBOX_URL (no trailing slash), BOT_ID, USER_ID, CHROMIUM (the browser's executable),
// PHOTO_HEX (the PNG the user uploads), SCREENSHOT (optional: a PNG of the page at the end).
import { chromium } from 'playwright-core';
import { Steps, check, watch } from './browser_steps.mjs';
import { Buffer } from 'node:buffer';

const { SANDBOX_URL: url, BOT_ID: bot, USER_ID: user, CHROMIUM: executablePath, PHOTO_HEX, SCREENSHOT } = process.env;
const STEP_TIMEOUT = 30_000;
const PNG = Buffer.from(PHOTO_HEX, 'hex');

const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
page.setDefaultTimeout(STEP_TIMEOUT);
const problems = watch(page);
const steps = new Steps();
const step = (name, body) => steps.step(name, body);

const messages = page.locator('#messages');
const botRow = (text) => messages.locator('.row:not(.own)', { hasText: text }).last();
const ownRow = (text) => messages.locator('.row.own', { hasText: text }).last();
async function say(text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
  await ownRow(text).waitFor();
}

try {
  await step('open the private chat from a link', async () => {
    await page.goto(`${url}/?bot=${bot}&user=${user}`);
    await page.locator('#head-title', { hasText: 'Web Chat Bot' }).waitFor();
    await page.locator('.empty', { hasText: 'No messages here yet' }).waitFor();
  });

  await step('text, HTML entities and an inline keyboard', async () => {
    await say('hello');
    const row = botRow('Hi Zoë');
    await row.locator('strong', { hasText: 'Hi' }).waitFor();
    await row.locator('.ikb a', { hasText: 'Docs' }).waitFor();
    check(await row.locator('.ikb a').getAttribute('href') === 'https://core.telegram.org/bots/api', 'the URL button links to its URL');
  });

  await step('press an inline button: the callback answer and the edit', async () => {
    await botRow('Hi Zoë').locator('.ikb button', { hasText: 'Edit me' }).click();
    await page.locator('#toast', { hasText: 'Done' }).waitFor();
    const edited = botRow('Edited by the bot');
    await edited.locator('.meta', { hasText: 'edited' }).waitFor();
    check(await edited.locator('.ikb').count() === 0, 'an edit without reply_markup removes the inline keyboard');
    check(await botRow('Hi Zoë').count() === 0, 'the old text is replaced, not kept beside the new one');
  });

  await step('a chat action shows in the header until the next message', async () => {
    await say('busy');
    await page.locator('#head-status.typing', { hasText: 'sending a photo…' }).waitFor();
  });

  await step('a command and a reply keyboard', async () => {
    await say('/keyboard');
    await botRow('Pick a colour').waitFor();
    check(!(await page.locator('#head-status').getAttribute('class')).includes('typing'), 'a message ends the chat action');
    await page.locator('#reply-kb button', { hasText: 'Blue' }).click();
    await ownRow('Blue').waitFor();
    await botRow('You chose Blue').waitFor();
    await page.locator('#reply-kb').waitFor({ state: 'hidden' });
  });

  await step('send a photo; the bot sends it back', async () => {
    await page.fill('#text', 'my picture');
    await page.setInputFiles('#photo-input', { name: 'picture.png', mimeType: 'image/png', buffer: PNG });
    await ownRow('my picture').locator('img.photo').waitFor();
    const back = botRow('Your photo is 3×2');
    const img = back.locator('img.photo');
    await img.waitFor();
    await page.waitForFunction((el) => el.complete && el.naturalWidth === 3 && el.naturalHeight === 2, await img.elementHandle());
  });

  await step('vote in a poll', async () => {
    await say('poll');
    const poll = botRow('Tea or coffee?');
    await poll.locator('.poll-kind', { hasText: 'Public poll' }).waitFor();
    await poll.locator('.poll-opt', { hasText: 'Coffee' }).click();
    await poll.locator('.poll-opt[aria-pressed="true"]', { hasText: 'Coffee' }).locator('.pct', { hasText: '100%' }).waitFor();
    await poll.locator('.poll-total', { hasText: '1 vote' }).waitFor();
    await botRow('You voted Coffee').waitFor();
  });

  await step('a dice shows the value the bot was given', async () => {
    await say('dice');
    const said = await botRow('rolled ').locator('.body').textContent();
    const value = /rolled (\d)/.exec(said)?.[1];
    check(value, `the bot's "rolled N" message: ${said}`);
    await messages.locator(`.dice[aria-label="🎲 rolled ${value}"]`).waitFor();
  });

  await step('send a location from the dialog', async () => {
    await page.click('#loc-btn');
    await page.fill('#lat', '48.8584');
    await page.fill('#lon', '2.2945');
    await page.click('#loc-form button.primary');
    await ownRow('48.85840, 2.29450').waitFor();
    await botRow('You are at 48.8584, 2.2945').waitFor();
  });

  await step('a deleted message is marked deleted', async () => {
    await say('delete');
    await messages.locator('.row.deleted', { hasText: 'short-lived' }).locator('.meta', { hasText: 'deleted' }).waitFor();
    await botRow('Deleted it').waitFor();
  });

  await step('reloading the page shows the same history', async () => {
    const before = await messages.locator('.row').count();
    await page.reload();
    await botRow('Deleted it').waitFor();
    const after = await messages.locator('.row').count();
    check(after === before, `the history has ${after} rows after a reload, ${before} before`);
    await botRow('Edited by the bot').locator('.meta', { hasText: 'edited' }).waitFor();
    const poll = botRow('Tea or coffee?');
    await poll.locator('.poll-opt[aria-pressed="true"]', { hasText: 'Coffee' }).waitFor();
    check(await poll.locator('.poll-opt:not([disabled])').count() === 0, 'a poll the user voted in shows results, not buttons');
  });

  await step('create a group from the sidebar', async () => {
    await page.fill('#group-title', 'Tea club');
    await page.click('#group-form button');
    await page.locator('#head-title', { hasText: 'Tea club' }).waitFor();
    await page.locator('#head-status', { hasText: 'group · 2 members' }).waitFor();
    await page.locator('#chat-list .chat-name', { hasText: 'Tea club' }).waitFor();
  });

  await step('a new user joins the group and writes in it', async () => {
    await page.fill('#user-name', 'Bob');
    await page.click('#user-form button');
    await page.locator('#user-select option:checked', { hasText: 'Bob' }).waitFor({ state: 'attached' });
    await page.locator('#chat-list .chat-item', { hasText: 'Tea club' }).locator('.chat-sub', { hasText: 'not a member' }).waitFor();
    await page.locator('#chat-list .chat-item', { hasText: 'Tea club' }).click();
    await page.locator('#join-bar').waitFor();
    check(await page.locator('#composer').isHidden(), 'a non-member cannot write');
    await page.click('#join-btn');
    await messages.locator('.row.service', { hasText: 'Bob joined the group' }).waitFor();
    await page.locator('#head-status', { hasText: 'group · 3 members' }).waitFor();
    await say('hello');
    const reply = botRow('Hi Bob');
    await reply.locator('.sender', { hasText: 'Web Chat Bot' }).waitFor();
  });

  if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT, fullPage: true }); // the page before the reset

  await step('a reset of the sandbox starts the page over', async () => {
    // Event numbers keep growing across a reset: the page learns of it from the new epoch.
    const reset = await fetch(`${url}/sandbox/reset`, { method: 'POST' });
    check(reset.ok, `POST /sandbox/reset answered ${reset.status}`);
    await page.locator('#head-title', { hasText: 'Pick' }).waitFor();
    check(await messages.locator('.row').count() === 0, 'the old conversation is gone from the page');
  });

  await step('the page logged no errors', async () => {
    check(problems.length === 0, problems.join('\n'));
  });

  console.log('PASSED');
} catch (e) {
  console.error(`FAILED at step "${steps.current}": ${e.message}`);
  for (const p of problems) console.error(p);
  if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT, fullPage: true }).catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
