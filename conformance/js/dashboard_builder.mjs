// Plays an editor of a bot in Ferrogram's dashboard code view (decision 0056), in a real
// Chromium driven by playwright-core: opens the code view (CodeMirror replaces the textarea),
// types a misspelt key and sees the validator's error inline and listed, completes the right key
// from the JSON Schema, sees the errors gone, runs the draft in the try-it chat (the sandbox's
// web chat, framed) and talks to it, restarts the conversation, and publishes. axe-core runs on
// the page at each state; no console error nor failed request is allowed.
// crates/server/tests/dashboard_browser_builder.rs serves the dashboard on a real SQLite store
// with a real sandbox, runs this script, and checks the store afterwards.
// Every step waits for what the page must show (locators wait; nothing sleeps).
//
// Env: BASE_URL (no trailing slash), EDIT_PATH (/w/ID/bots/NAME/edit), SESSION (the fg_session
// cookie's value of a signed-in editor), CHROMIUM (the browser's executable), SHOTS (a folder
// for the screenshots).
import { chromium } from 'playwright-core';
import { Steps, accessible as axe, check, watch } from './browser_steps.mjs';

const { BASE_URL: base, EDIT_PATH: edit, SESSION: session, CHROMIUM: executablePath, SHOTS: shots } = process.env;
const STEP_TIMEOUT = 30_000;

// The file as the test expects it published: the head, then the reply the steps type.
const HEAD = 'ferrogram: 1\nbot: {name: echo}\non:\n  - text: any\n    do:\n      - ';
const BAD = `${HEAD}replyy: "hi"\n`;

const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: 'en-US' });
await context.addCookies([{ name: 'fg_session', value: session, url: base }]);
const page = await context.newPage();
page.setDefaultTimeout(STEP_TIMEOUT);
const problems = watch(page);
const steps = new Steps();
const step = (name, body) => steps.step(name, body);
async function shot(name) {
  await page.screenshot({ path: `${shots}/dashboard-${name}.png`, fullPage: true });
}
// axe-core on the page as it is (browser_steps.mjs), not inside the framed web chat.
const accessible = (what) => axe(page, what, { iframes: false });
const editor = () => page.locator('.cm-content');
const problemList = () => page.locator('#problems');
// The framed web chat.
const chat = () => page.frameLocator('#try-chat');
async function say(text) {
  await chat().locator('#text').fill(text);
  await chat().locator('#send').click();
}

try {
  await step('open the code view: CodeMirror holds the published file', async () => {
    await page.goto(`${base}${edit}`);
    await page.getByRole('heading', { name: 'echo · Code' }).waitFor();
    await editor().waitFor();
    check(await page.locator('textarea#source').isHidden(), 'the textarea gives way to the editor');
    await editor().getByText('You said:').waitFor();
    await problemList().getByText('No problems found.').waitFor();
    await accessible('the code view');
    await shot('builder');
  });

  await step('type a misspelt key: the error shows inline and in the list', async () => {
    await editor().click();
    await page.keyboard.press('Control+a');
    await page.keyboard.insertText(BAD);
    await page.locator('.cm-lintRange-error').first().waitFor();
    await problemList().getByText(/line 6, column \d+/).waitFor();
    await problemList().getByText(/replyy/).first().waitFor();
    await page.locator('.cm-lint-marker-error').first().waitFor();
    await accessible('the code view with an error');
    await shot('builder-error');
  });

  await step('complete the right key from the schema: the error goes', async () => {
    await page.keyboard.press('Control+a');
    await page.keyboard.insertText(HEAD);
    await page.keyboard.type('rep');
    const option = page.locator('.cm-tooltip-autocomplete li').filter({ has: page.locator('.cm-completionLabel', { hasText: /^reply$/ }) });
    await option.waitFor();
    await shot('builder-complete');
    await option.click();
    await page.keyboard.insertText('"Draft says: {{ message.text }}"');
    await editor().getByText('Draft says:').waitFor();
    await problemList().getByText('No problems found.').waitFor();
    check(await page.locator('.cm-lintRange-error').count() === 0, 'no error left inline');
  });

  await step('try it: the draft answers in the framed web chat', async () => {
    await page.getByRole('button', { name: 'Run the draft' }).click();
    await page.locator('#try-chat').waitFor();
    await editor().getByText('Draft says:').waitFor();
    await say('hello');
    await chat().getByText('Draft says: hello').waitFor();
    await accessible('the code view with the try-it chat');
    await shot('builder-try');
  });

  await step('restart the conversation: a new chat with the same draft', async () => {
    await page.getByRole('button', { name: 'Restart conversation' }).click();
    await page.locator('#try-chat').waitFor();
    await chat().locator('#text').waitFor();
    await say('again');
    await chat().getByText('Draft says: again').waitFor();
    check(await chat().getByText('Draft says: hello').count() === 0, 'the old conversation is not shown');
  });

  await step('publish: a new version', async () => {
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByText('Published: version 2 is current.').waitFor();
    await page.getByText('The draft is the published version.').waitFor();
    await accessible('the code view after publishing');
    await shot('builder-published');
  });

  check(problems.length === 0, `the pages logged problems:\n${problems.join('\n')}`);
  console.log('ok');
} catch (error) {
  console.error(`failed at step "${steps.current}": ${error.message}`);
  if (problems.length) console.error(problems.join('\n'));
  await shot('builder-failure').catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
