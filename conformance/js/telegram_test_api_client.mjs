// The user side of telegram-test-api's own tests, played by its own TelegramClient against the
// Ferrogram sandbox (crates/sandbox/src/telegram_test_api_compat.rs). The bot is played by the
// Rust test crates/sandbox/tests/compat.rs (`js_client`), which answers, for every token it is
// given:
//   /start → "What is your name?" with the reply keyboard [Masha, Sasha] (a reply);
//   Masha  → "Hello, Masha!";   /ping → "pong";   /menu → "Greetings" + inline [Button];
//   delete → deletes that message;  callback "edit" → edits the text to "Edited";
//   callback "edit_markup" → edits the keyboard to [EditedButton]; other callbacks → "pong".
// Env: SANDBOX_URL, BOT_TOKENS (comma-separated, at least 5). Prints `OK <scenario>` lines and
// exits 0, or prints the failure and exits 1.

import assert from 'node:assert/strict';
import { TelegramClient } from 'telegram-test-api/lib/modules/telegramClient.js';

const url = process.env.SANDBOX_URL;
const tokens = (process.env.BOT_TOKENS || '').split(',').filter(Boolean);
if (!url || tokens.length < 5) {
  console.error('SANDBOX_URL and BOT_TOKENS (5 tokens) are required');
  process.exit(2);
}
// The package's default client waits 1 s for the bot; a busy 2-core box needs more.
const slow = { timeout: 20000, interval: 50 };
const client = (token, options = {}) => new TelegramClient(url, token, { ...slow, ...options });
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/// Polls getUpdatesHistory until `ok(history)` holds (the package's server.waitBotEdits()).
async function historyUntil(c, what, ok) {
  const deadline = Date.now() + 20000;
  for (;;) {
    const history = await c.getUpdatesHistory();
    if (ok(history)) return history;
    if (Date.now() > deadline) throw new Error(`${what}: ${JSON.stringify(history)}`);
    await sleep(50);
  }
}

async function post(route, body) {
  const res = await fetch(`${url}${route}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  return res.json();
}

const scenarios = {
  // "should fully implement user-bot interaction" and "should get updates history".
  async interaction_and_history(token) {
    const c = client(token);
    const res = await c.sendMessage(c.makeMessage('/start'));
    assert.deepEqual(res, { ok: true, result: null });
    const updates = await c.getUpdates();
    assert.equal(updates.ok, true);
    assert.equal(updates.result.length, 1, 'one bot message');
    const first = updates.result[0];
    assert.equal(first.message.text, 'What is your name?');
    assert.equal(first.botToken, token);
    assert.equal(first.isRead, true);
    assert.equal(String(first.message.chat_id), '1');
    assert.ok(first.messageId && first.updateId && first.time);
    const markup = first.message.reply_markup;
    assert.equal(markup.keyboard[0][0].text, 'Masha');
    assert.deepEqual(await post('/getUpdates', { token, chatId: 1 }), { ok: true, result: [] }, 'consumed');
    await c.sendMessage(c.makeMessage(markup.keyboard[0][0].text));
    const updates2 = await c.getUpdates();
    assert.equal(updates2.result.length, 1);
    assert.equal(updates2.result[0].message.text, 'Hello, Masha!');
    const history = await c.getUpdatesHistory();
    assert.equal(history.length, 4);
    history.forEach((item, index) => {
      assert.ok(item.time);
      assert.ok(item.botToken);
      assert.ok('message' in item && item.message);
      assert.ok(item.updateId);
      assert.ok(item.messageId);
      if (index > 0) assert.ok(item.time > history[index - 1].time, 'times increase');
    });
    assert.deepEqual(history.map((i) => i.message.text), ['/start', 'What is your name?', 'Masha', 'Hello, Masha!']);
  },

  // "should get updates only for respective client".
  async respective_clients(token) {
    const c = client(token);
    const c2 = client(token, { chatId: 2, firstName: 'Second User' });
    await c.sendMessage(c.makeMessage('/start'));
    await c2.sendMessage(c2.makeMessage('/start'));
    const updates = await c.getUpdates();
    const updates2 = await c2.getUpdates();
    assert.equal(updates.result.length, 1);
    assert.equal(updates2.result.length, 1);
    assert.equal(String(updates2.result[0].message.chat_id), '2');
  },

  // "waits user message", "should handle message editing", "should handle reply markup editing".
  async editing(token) {
    const c = client(token);
    await c.sendCommand(c.makeCommand('/menu'));
    const history0 = await historyUntil(c, 'the command in the history', (h) => h.length >= 1);
    assert.deepEqual(history0[0].entities, [{ offset: 0, length: 5, type: 'bot_command' }]);
    const startUpdates = await c.getUpdates();
    const botReply = startUpdates.result[0];
    assert.equal(botReply.message.text, 'Greetings');
    assert.equal(botReply.message.reply_markup.inline_keyboard[0][0].text, 'Button');
    await c.sendCallback(c.makeCallbackQuery('edit', { message: { message_id: botReply.messageId } }));
    const all = await historyUntil(c, 'the text edit', (h) => h.some((u) => u.messageId === botReply.messageId
      && 'message' in u && u.message.text === 'Edited'));
    const callback = all.find((u) => 'callbackQuery' in u);
    assert.equal(callback.callbackQuery.data, 'edit');
    assert.ok(callback.callbackId);

    await c.sendCommand(c.makeCommand('/menu'));
    const second = (await c.getUpdates()).result[0];
    assert.notEqual(second.messageId, botReply.messageId);
    await c.sendCallback(c.makeCallbackQuery('edit_markup', { message: { message_id: second.messageId } }));
    await historyUntil(c, 'the markup edit', (h) => h.some((u) => u.messageId === second.messageId && 'message' in u
      && u.message.reply_markup?.inline_keyboard?.[0]?.[0]?.text === 'EditedButton'));
  },

  // "should provide user`s callbacks to bot" (a callback without a message), a group chat, and
  // "should allow messages deletion".
  async callbacks_groups_deletion(token) {
    const c = client(token);
    await c.sendCallback(c.makeCallbackQuery('somedata'));
    const pong = await c.getUpdates();
    assert.equal(pong.result[0].message.text, 'pong');

    const g = client(token, { type: 'group', chatId: -100500, chatTitle: 'Test group', userId: 7, firstName: 'Gabe' });
    await g.sendMessage(g.makeMessage('/ping'));
    const inGroup = await g.getUpdates();
    assert.equal(inGroup.result[0].message.text, 'pong');
    assert.equal(inGroup.result[0].message.chat.type, 'group');

    await c.sendMessage(c.makeMessage('delete'));
    await c.sendMessage(c.makeMessage('keep safe'));
    await historyUntil(c, 'the deletion', (h) => !h.some((u) => 'message' in u && u.message.text === 'delete')
      && h.some((u) => 'message' in u && u.message.text === 'keep safe'));
  },

  // The answers' exact shapes (as the package's routes give them).
  async shapes(token) {
    const c = client(token, { chatId: 3, userId: 3 });
    assert.deepEqual(await c.sendMessage(c.makeMessage('/ping')), { ok: true, result: null });
    const updates = await c.getUpdates();
    assert.deepEqual(Object.keys(updates).sort(), ['ok', 'result']);
    assert.deepEqual(Object.keys(updates.result[0]).sort(),
      ['botToken', 'isRead', 'message', 'messageId', 'time', 'updateId']);
    assert.deepEqual(await c.sendCommand(c.makeCommand('/ping')), { ok: true, result: null });
    assert.deepEqual(await c.sendCallback(c.makeCallbackQuery('x')), { ok: true, result: null });
  },
};

let failed = false;
const names = Object.keys(scenarios);
for (const [i, name] of names.entries()) {
  try {
    await scenarios[name](tokens[i]);
    console.log(`OK ${name}`);
  } catch (error) {
    failed = true;
    console.log(`FAIL ${name}: ${error.stack || error}`);
    if (error.response) console.log(`  response: ${error.response.status} ${JSON.stringify(error.response.data)}`);
  }
}
process.exit(failed ? 1 : 0);
