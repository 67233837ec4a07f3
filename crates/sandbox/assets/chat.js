// Ferrogram sandbox web chat: a Telegram-like chat driven by the sandbox's control API
// (docs/sandbox.md). Plain JS, no dependencies. Untrusted text only ever reaches the DOM
// as text nodes or checked attributes, never through innerHTML.
'use strict';

const $ = (id) => document.getElementById(id);
const S = {
  bots: [], users: [], groups: [], bot: null, user: null, chat: null,
  entries: new Map(), els: new Map(), // message_id -> {message, from_bot, edited, deleted, markup} / element
  ctrl: null, last: 0, epoch: null, votes: new Map(), votesAsked: new Set(), localFiles: new Map(),
  cbSeen: new Set(), forceReply: null, typingTimer: 0,
};

// ---------- helpers ----------
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of kids.flat()) if (c != null && c !== false) el.append(c); // strings become text nodes
  return el;
}

async function api(method, path, body, signal) {
  const res = await fetch(path, {
    method, signal, headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  let j = null;
  try { j = await res.json(); } catch { /* empty or not JSON */ }
  if (!res.ok || (j && j.ok === false)) {
    const err = new Error((j && (j.error || j.description)) || `HTTP ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return j && j.ok === true && 'result' in j ? j.result : j;
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
});

function safeUrl(u) {
  try {
    const url = new URL(String(u), location.href);
    return ['http:', 'https:', 'tg:', 'mailto:', 'tel:'].includes(url.protocol) ? url.href : null;
  } catch { return null; }
}

const fullName = (u) => u ? [u.first_name, u.last_name].filter(Boolean).join(' ') || u.username || `#${u.id}` : '';
const initial = (s) => (String(s || '?').trim()[0] || '?').toUpperCase();
const isPrivate = () => !S.chat || S.chat.type === 'private';
const fmtTime = (d) => new Date(d * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

let toastTimer = 0;
function toast(text, alert = false) {
  const t = $('toast');
  Object.assign(t, { textContent: text, hidden: false });
  t.classList.toggle('alert', alert);
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, alert ? 6000 : 3000);
}
const showBanner = (text) => Object.assign($('banner'), { textContent: text, hidden: false });
function setStatus(text, typing = false) {
  $('head-status').textContent = text;
  $('head-status').classList.toggle('typing', typing);
}
function defaultStatus() {
  if (!S.chat) return '';
  if (isPrivate()) return 'bot';
  const n = members(S.groups.find((g) => g.id === S.chat.id)).length;
  return n ? `${S.chat.type} · ${n} members` : S.chat.type;
}

// GET /sandbox/groups gives each group's `members` as {id: status}, bots included.
const members = (g) => Object.entries(g?.members || {})
  .filter(([, st]) => ['creator', 'administrator', 'member', 'restricted'].includes(st)).map(([id]) => Number(id));

// ---------- world: bots, users, chats ----------
async function loadWorld() {
  [S.bots, S.users, S.groups] = (await Promise.all(['bots', 'users', 'groups']
    .map((w) => api('GET', `/sandbox/${w}`).catch((e) => (w === 'groups' ? [] : Promise.reject(e)))))).map((x) => x || []);
  fillSelect($('bot-select'), S.bots, (b) => `${fullName(b)}${b.username ? ' @' + b.username : ''}`, 'no bots yet — add one');
  fillSelect($('user-select'), S.users, (u) => `${fullName(u)} · ${u.id}`, 'no users yet — create one');
  S.bot = S.bots.find((b) => b.id === S.bot?.id) || S.bot;
  S.user = S.users.find((u) => u.id === S.user?.id) || S.user;
  if (S.bot) $('bot-select').value = S.bot.id;
  if (S.user) $('user-select').value = S.user.id;
}

function fillSelect(sel, items, label, emptyText) {
  sel.replaceChildren(...(items.length ? items.map((x) => h('option', { value: x.id }, label(x)))
    : [h('option', { value: '' }, emptyText)]));
}

function chatsForPair() {
  if (!S.bot || !S.user) return [];
  const priv = { id: S.user.id, type: 'private', title: fullName(S.bot) };
  return [priv, ...S.groups.filter((g) => members(g).includes(S.bot.id))];
}

function renderChats() {
  $('chat-list').replaceChildren(...chatsForPair().map((c) => {
    const member = c.type === 'private' || members(c).includes(S.user.id);
    const sub = c.type === 'private' ? 'private chat with the bot' : `${c.type}${member ? '' : ' · not a member'}`;
    return h('li', {}, h('button', {
      type: 'button', class: 'chat-item', 'aria-current': S.chat?.id === c.id ? 'true' : 'false',
      onclick: () => openChat(c),
    }, h('span', { class: `avatar${c.type === 'private' ? '' : ' group'}`, 'aria-hidden': 'true' }, initial(c.title)),
    h('span', {}, h('span', { class: 'chat-name' }, c.title), h('span', { class: 'chat-sub' }, sub))));
  }));
}

function selectPair(botId, userId, chatId) {
  S.bot = S.bots.find((b) => b.id === botId) || S.bots[0] || null;
  S.user = S.users.find((u) => u.id === userId) || S.users[0] || null;
  if (S.bot) $('bot-select').value = S.bot.id;
  if (S.user) $('user-select').value = S.user.id;
  const chats = chatsForPair();
  openChat(chats.find((c) => c.id === chatId) || S.groups.find((g) => g.id === chatId) || chats[0] || null);
}

// ---------- the conversation ----------
async function openChat(chat) {
  S.ctrl?.abort();
  Object.assign(S, { ctrl: null, chat, last: 0, epoch: null, forceReply: null });
  S.entries.clear();
  S.els.clear();
  $('messages').replaceChildren();
  $('banner').hidden = true;
  renderChats();
  renderReplyKb();
  const ready = chat && S.bot && S.user;
  $('composer').setAttribute('aria-disabled', String(!ready));
  if (!ready) {
    $('head-title').textContent = S.bot ? 'Pick a user' : 'Pick a bot and a user';
    $('head-avatar').textContent = '';
    return setStatus('');
  }
  const qs = new URLSearchParams({ bot: S.bot.id, user: S.user.id, chat: chat.id });
  history.replaceState(null, '', `?${qs}`);
  localStorage.setItem('ferrogram.sandbox.last', qs.toString());
  document.querySelector('.app').classList.add('in-chat');
  $('head-title').textContent = chat.title;
  Object.assign($('head-avatar'), { textContent: initial(chat.title), className: `avatar${isPrivate() ? '' : ' group'}` });
  setStatus(defaultStatus());
  const member = isPrivate() || members(chat).includes(S.user.id);
  $('join-bar').hidden = member;
  $('composer').hidden = !member;

  const ctrl = (S.ctrl = new AbortController());
  const base = `bot_id=${S.bot.id}&chat_id=${chat.id}`;
  try {
    // Learn the current event sequence first (asking for events after a huge seq answers none,
    // only `last`), then read the history: events that land in between are applied twice,
    // which is harmless (upserts by message_id).
    const ev = await api('GET', `/sandbox/events?${base}&after=${Number.MAX_SAFE_INTEGER}&timeout=0`, null, ctrl.signal);
    S.last = ev?.last || 0;
    S.epoch = ev?.epoch ?? null;
    let hist = [];
    try {
      hist = await api('GET', `/sandbox/chats/${chat.id}/messages?bot_id=${S.bot.id}`, null, ctrl.signal);
    } catch (e) { if (e.status !== 404) throw e; } // a chat nobody wrote in yet
    if (ctrl.signal.aborted) return;
    for (const x of (Array.isArray(hist) ? hist : hist?.messages || [])) {
      upsert({ message: x.message, from_bot: !!x.from_bot, edited: !!x.edits?.length, deleted: !!x.deleted,
        markup: x.reply_markup }, false);
    }
    renderEmpty();
    renderReplyKb();
    scrollBottom();
  } catch (e) {
    if (ctrl.signal.aborted) return;
    showBanner(`Could not load the chat: ${e.message}`);
  }
  pollEvents(ctrl.signal, base);
}

async function pollEvents(signal, base) {
  let fails = 0;
  while (!signal.aborted) {
    try {
      // After an error, check the connection at once (timeout 0) before long-polling again.
      const epoch = S.epoch === null ? '' : `&epoch=${S.epoch}`;
      const r = await api('GET', `/sandbox/events?${base}&after=${S.last}${epoch}&timeout=${fails ? 0 : 25}`, null, signal);
      if (signal.aborted) return;
      if (fails) $('banner').hidden = true;
      fails = 0;
      // Another epoch: the sandbox was reset or restarted, the events this page knows are gone.
      if (S.epoch !== null && r?.epoch !== S.epoch) {
        await loadWorld();
        return selectPair(S.bot?.id, S.user?.id, S.chat?.id);
      }
      if (S.epoch === null) S.epoch = r?.epoch ?? null; // the chat's first call had failed
      for (const e of r?.events || []) {
        S.last = Math.max(S.last, e.seq);
        applyEvent(e);
      }
      S.last = Math.max(S.last, r?.last || 0);
    } catch (e) {
      if (signal.aborted) return;
      fails++;
      const wait = Math.min(30000, 1000 * 2 ** (fails - 1));
      showBanner(`Connection lost — retrying in ${Math.round(wait / 1000)} s…`);
      await sleep(wait, signal);
    }
  }
}

function applyEvent(e) {
  const d = e.detail;
  switch (e.kind) {
    case 'received': // a user's message (this page's own ones come back here too)
    case 'sent':
    case 'edited':
      if (!e.message) return;
      if (e.kind === 'sent') clearTyping();
      upsert({ message: e.message, from_bot: e.kind !== 'received' && e.message.from?.is_bot !== false,
        edited: e.kind === 'edited', markup: d?.reply_markup });
      break;
    case 'deleted': {
      const id = e.message_id ?? d?.message_id;
      const x = S.entries.get(id);
      if (x) upsert({ ...x, deleted: true });
      break;
    }
    case 'chat_action': typing(typeof d === 'string' ? d : d?.action); break;
    case 'callback_answered': if (d) showCallbackAnswer(d.callback_query_id ?? d.id, d); break;
    default: break;
  }
}

const ACTIONS = { upload_photo: 'sending a photo', upload_document: 'sending a file', upload_video: 'sending a video',
  record_video: 'recording a video', record_voice: 'recording a voice message', upload_voice: 'sending a voice message' };
function typing(action = 'typing') {
  const what = ACTIONS[action] || String(action).replace(/_/g, ' ').replace(/^find /, 'choosing ');
  setStatus(isPrivate() ? `${what}…` : `${fullName(S.bot)} is ${what}…`, true);
  clearTimeout(S.typingTimer);
  S.typingTimer = setTimeout(clearTyping, 5000);
}
const clearTyping = () => { clearTimeout(S.typingTimer); setStatus(defaultStatus()); };

const nearBottom = () => { const m = $('messages'); return m.scrollHeight - m.scrollTop - m.clientHeight < 80; };
const scrollBottom = () => { const m = $('messages'); m.scrollTop = m.scrollHeight; };

function upsert(entry, live = true) {
  const id = entry.message?.message_id;
  if (id == null) return;
  const prev = S.entries.get(id);
  if (prev) {
    entry.edited = entry.edited || prev.edited;
    entry.deleted = entry.deleted || prev.deleted;
    entry.markup = entry.markup || prev.markup; // a reply keyboard cannot be edited
  }
  S.entries.set(id, entry);
  const stick = nearBottom();
  const el = renderMessage(entry);
  const old = S.els.get(id);
  if (old) old.replaceWith(el);
  else {
    const nextId = [...S.els.keys()].filter((k) => k > id).sort((a, b) => a - b)[0];
    $('messages').insertBefore(el, nextId == null ? null : S.els.get(nextId));
  }
  S.els.set(id, el);
  if (!live) return;
  renderEmpty();
  renderReplyKb();
  if (stick || !entry.from_bot) scrollBottom();
}

function renderEmpty() {
  const box = $('messages');
  box.querySelector('.empty')?.remove();
  if (S.entries.size) return;
  box.append(h('div', { class: 'empty' }, 'No messages here yet. ',
    isPrivate() ? h('button', { type: 'button', class: 'linkish', onclick: () => sendText('/start') }, 'Start the bot') : 'Say hello!'));
}

// ---------- rendering one message ----------
const SERVICE = ['new_chat_members', 'left_chat_member', 'group_chat_created', 'supergroup_chat_created',
  'new_chat_title', 'pinned_message', 'migrate_to_chat_id', 'delete_chat_photo', 'new_chat_photo', 'web_app_data'];

function serviceText(m) {
  const who = fullName(m.from);
  if (m.new_chat_members) return `${who} added ${m.new_chat_members.map(fullName).join(', ')}`.replace(/^(.+) added \1$/, '$1 joined the group');
  if (m.left_chat_member) return m.left_chat_member.id === m.from?.id ? `${who} left the group` : `${who} removed ${fullName(m.left_chat_member)}`;
  if (m.group_chat_created || m.supergroup_chat_created) return `${who} created the group «${m.chat?.title || ''}»`;
  if (m.new_chat_title) return `${who} renamed the group to «${m.new_chat_title}»`;
  if (m.pinned_message) return `${who} pinned a message`;
  if (m.web_app_data) return `Data from «${m.web_app_data.button_text}»: ${m.web_app_data.data}`;
  return `${who}: service message`;
}

function renderMessage(x) {
  const m = x.message;
  if (SERVICE.some((k) => m[k] != null)) {
    return h('div', { class: 'row service' }, h('div', { class: 'svc' }, serviceText(m)));
  }
  const own = !x.from_bot && m.from?.id === S.user?.id;
  const row = h('div', { class: `row${own ? ' own' : ''}${x.deleted ? ' deleted' : ''}`, 'data-id': m.message_id });
  const bubble = h('div', { class: 'bubble' });
  if (!isPrivate() && !own && m.from) bubble.append(h('div', { class: 'sender' }, fullName(m.from)));
  const r = m.reply_to_message;
  if (r) bubble.append(h('div', { class: 'quote' }, h('b', {}, fullName(r.from)), shortText(r)));
  const parts = content(m);
  bubble.append(...parts);
  const label = x.deleted ? 'deleted ' : (x.edited || m.edit_date) ? 'edited ' : '';
  const meta = h('span', { class: 'meta', title: m.date ? new Date(m.date * 1000).toLocaleString() : '' },
    label, m.date ? fmtTime(m.date) : '');
  const last = parts[parts.length - 1];
  (last?.classList?.contains('body') ? last : bubble).append(meta); // time floats on the last line
  row.append(bubble);
  const ik = m.reply_markup?.inline_keyboard;
  if (ik && !x.deleted) row.append(inlineKeyboard(ik, m));
  return row;
}

function shortText(m) {
  const t = m.text || m.caption || (m.photo && 'Photo') || m.document?.file_name || (m.location && 'Location') ||
    (m.contact && 'Contact') || m.poll?.question || m.dice?.emoji || 'Message';
  return t.length > 80 ? `${t.slice(0, 80)}…` : t;
}

function card(icon, title, sub) {
  return h('div', { class: 'card' }, h('span', { class: 'ico', 'aria-hidden': 'true' }, icon),
    h('div', {}, h('div', {}, title), sub ? h('div', { class: 'sub' }, sub) : null));
}

/** The control API serves stored files to the user side without a bot token. */
const fileUrl = (fileId) => `/sandbox/files/${encodeURIComponent(fileId)}`;

function content(m) {
  const out = [];
  const caption = () => m.caption && out.push(rich(m.caption, m.caption_entities));
  if (m.text != null) out.push(rich(m.text, m.entities));
  else if (m.photo) {
    const big = m.photo.reduce((a, b) => ((b.width * b.height) > (a.width * a.height) ? b : a), m.photo[0] || {});
    const src = S.localFiles.get(big.file_id) || (big.file_id ? fileUrl(big.file_id) : null);
    out.push(src ? h('img', { class: 'photo', src, alt: m.caption || 'Photo', onload: () => nearBottom() && scrollBottom() })
      : h('div', { class: 'photo-ph', role: 'img', 'aria-label': `Photo${big.width ? ` ${big.width}×${big.height}` : ''}` }, '🖼'));
    caption();
  } else if (m.document) {
    const d = m.document;
    const name = h('a', { href: fileUrl(d.file_id), download: d.file_name || 'document' }, d.file_name || 'Document');
    out.push(card('📄', name, [d.mime_type, d.file_size && `${(d.file_size / 1024).toFixed(1)} KB`].filter(Boolean).join(' · ')));
    caption();
  } else if (m.venue || m.location) {
    const { latitude: la, longitude: lo } = (m.venue || m).location;
    const link = h('a', { href: `https://www.openstreetmap.org/?mlat=${la}&mlon=${lo}#map=15/${la}/${lo}`, target: '_blank', rel: 'noopener noreferrer' },
      `${(+la).toFixed(5)}, ${(+lo).toFixed(5)}`);
    out.push(card('📍', m.venue ? m.venue.title : 'Location', m.venue ? m.venue.address : link));
    if (m.venue) out.push(h('div', { class: 'sub' }, link));
  } else if (m.contact) {
    out.push(card('👤', fullName(m.contact), m.contact.phone_number));
  } else if (m.poll) {
    out.push(renderPoll(m));
  } else if (m.dice) {
    out.push(h('div', { class: 'dice', role: 'img', 'aria-label': `${m.dice.emoji} rolled ${m.dice.value}` }, m.dice.emoji,
      h('small', {}, `value ${m.dice.value}`)));
  } else if (m.sticker) {
    out.push(h('div', { class: 'dice' }, m.sticker.emoji || '🏷', h('small', {}, 'sticker')));
  } else {
    const kind = ['animation', 'video', 'video_note', 'audio', 'voice', 'game', 'invoice'].find((k) => m[k]);
    out.push(kind ? card('📎', kind.replace('_', ' '), m[kind].file_name || m[kind].title || '')
      : h('div', { class: 'body' }, h('em', {}, 'unsupported message')));
    caption();
  }
  return out;
}

// Text with Telegram entities (offsets are UTF-16 code units, as JS strings are).
function rich(text, entities) {
  const el = h('div', { class: 'body' });
  const ents = (entities || []).filter((e) => e.length > 0)
    .sort((a, b) => a.offset - b.offset || b.length - a.length);
  build(el, text, 0, text.length, ents);
  return el;
}

function build(parent, text, from, to, ents) {
  let pos = from;
  for (let i = 0; i < ents.length;) {
    const e = ents[i];
    if (e.offset < pos || e.offset >= to) { i++; continue; } // overlapping or outside: ignore
    const end = Math.min(e.offset + e.length, to);
    if (e.offset > pos) parent.append(text.slice(pos, e.offset));
    const inner = [];
    let j = i + 1;
    for (; j < ents.length && ents[j].offset < end; j++) inner.push(ents[j]);
    const [outer, target] = entityNode(e, text.slice(e.offset, end));
    build(target, text, e.offset, end, inner);
    parent.append(outer);
    pos = end;
    i = j;
  }
  if (pos < to) parent.append(text.slice(pos, to));
}

function link(href) {
  const safe = safeUrl(href);
  return safe ? h('a', { href: safe, target: '_blank', rel: 'noopener noreferrer' }) : h('span');
}

const TAGS = { bold: 'strong', italic: 'em', underline: 'u', strikethrough: 's', code: 'code', blockquote: 'blockquote', expandable_blockquote: 'blockquote' };
// The element for an entity, and the element its text (and nested entities) go into.
function entityNode(e, s) {
  if (e.type === 'pre') {
    const c = h('code', { class: e.language ? `language-${e.language}` : null });
    return [h('pre', {}, c), c];
  }
  const n = TAGS[e.type] ? h(TAGS[e.type])
    : e.type === 'text_link' ? link(e.url)
    : e.type === 'url' ? link(/^[a-z][a-z0-9+.-]*:/i.test(s) ? s : `http://${s}`)
    : e.type === 'email' ? link(`mailto:${s}`)
    : e.type === 'phone_number' ? link(`tel:${s.replace(/[^\d+]/g, '')}`)
    : e.type === 'mention' ? link(`https://t.me/${s.slice(1)}`)
    : e.type === 'bot_command' ? h('button', { type: 'button', class: 'linkish', onclick: () => sendText(s) })
    : e.type === 'spoiler' ? h('span', { class: 'spoiler', title: 'spoiler', onclick: (ev) => ev.currentTarget.classList.add('shown') })
    : h('span', { class: ['hashtag', 'cashtag', 'text_mention'].includes(e.type) ? 'linkish' : null });
  return [n, n];
}

// ---------- polls ----------
function renderPoll(m) {
  const p = m.poll;
  const voted = S.votes.get(`${S.user?.id}:${p.id}`);
  if (!voted && !p.is_closed) learnVote(m);
  const results = !!voted || p.is_closed;
  const total = p.total_voter_count || 0;
  const picked = new Set();
  const kind = p.is_closed ? 'Final results' : `${p.is_anonymous === false ? 'Public' : 'Anonymous'} ${p.type === 'quiz' ? 'quiz' : 'poll'}`;
  const box = h('div', { class: 'poll' }, h('div', { class: 'poll-q' }, p.question), h('div', { class: 'poll-kind' }, kind));
  p.options.forEach((o, i) => {
    const multi = !results && p.allows_multiple_answers;
    const b = h('button', { type: 'button', class: 'poll-opt', disabled: results,
      'aria-pressed': results ? String(!!voted?.includes(i)) : multi ? 'false' : null });
    if (results) {
      const pct = total ? Math.round((o.voter_count || 0) * 100 / total) : 0;
      const mark = p.type === 'quiz' && p.correct_option_id === i ? '✓ ' : '';
      b.append(h('span', { class: 'bar', style: `width:${pct}%` }), h('span', { class: 'pct' }, `${pct}%`), h('span', {}, mark + o.text));
      b.title = `${o.voter_count || 0} votes`;
    } else {
      b.append(h('span', {}, o.text));
      b.onclick = multi ? () => {
        picked.has(i) ? picked.delete(i) : picked.add(i);
        b.setAttribute('aria-pressed', String(picked.has(i)));
      } : () => vote(m, [i]);
    }
    box.append(b);
  });
  if (!results && p.allows_multiple_answers) {
    box.append(h('button', { type: 'button', class: 'poll-vote', onclick: () => picked.size && vote(m, [...picked].sort()) }, 'Vote'));
  }
  box.append(h('div', { class: 'poll-total' }, `${total} ${total === 1 ? 'vote' : 'votes'}`));
  return box;
}

// After a reload or in another tab the page has not seen the user vote: ask the sandbox once.
async function learnVote(m) {
  const key = `${S.user?.id}:${m.poll.id}`;
  if (S.votesAsked.has(key)) return;
  S.votesAsked.add(key);
  const chat = S.chat;
  const r = await api('GET', `/sandbox/polls/${encodeURIComponent(m.poll.id)}`).catch(() => null);
  const ids = r?.votes?.[S.user?.id];
  if (!ids?.length) return;
  S.votes.set(key, ids);
  const x = S.entries.get(m.message_id);
  // The page may have moved to another chat meanwhile, where this id is another message.
  if (S.chat === chat && x?.message.poll?.id === m.poll.id) upsert({ ...x, message: { ...x.message, poll: r.poll } }, false);
}

async function vote(m, ids) {
  try {
    const r = await act('poll_answer', { poll_id: m.poll.id, option_ids: ids });
    S.votes.set(`${S.user.id}:${m.poll.id}`, ids);
    const x = S.entries.get(m.message_id); // no event tells of the user's own vote: the answer has the counts
    if (x && r?.poll) upsert({ ...x, message: { ...x.message, poll: r.poll } });
  } catch (e) { toast(e.message); }
}

// ---------- keyboards ----------
function inlineKeyboard(rows, m) {
  return h('div', { class: 'ikb' }, rows.map((row) => h('div', { class: 'ikb-row' }, row.map((b) => {
    const url = b.url || b.login_url?.url || b.web_app?.url;
    if (url) { const a = link(url); a.append(b.text); return a; }
    return h('button', { type: 'button', onclick: (ev) => pressInline(m, b, ev.currentTarget) }, b.text);
  }))));
}

async function pressInline(m, b, btn) {
  if (b.copy_text) {
    navigator.clipboard?.writeText(b.copy_text.text).catch(() => {});
    return toast('Copied to clipboard');
  }
  if (b.callback_data == null) return toast('This button type is not supported by the sandbox chat');
  Object.assign(btn, { disabled: true, ariaBusy: 'true' });
  try {
    const r = await act('callback', { message_id: m.message_id, data: b.callback_data });
    if (r?.callback_query?.id) await watchCallback(r.callback_query.id);
  } catch (e) { toast(e.message); }
  Object.assign(btn, { disabled: false, ariaBusy: null });
}

// Waits (up to ~5 s) for the bot's answerCallbackQuery; the callback_answered event shows it too.
async function watchCallback(id) {
  const signal = S.ctrl?.signal;
  for (let i = 0; i < 20 && !signal?.aborted && !S.cbSeen.has(id); i++) {
    const r = await api('GET', `/sandbox/callbacks/${encodeURIComponent(id)}`).catch(() => null);
    if (r?.answered) return showCallbackAnswer(id, r);
    await sleep(250, signal);
  }
}

function showCallbackAnswer(id, d) {
  if (S.cbSeen.has(id)) return;
  S.cbSeen.add(id);
  if (d.text) toast(d.text, !!d.show_alert);
  const u = d.url && safeUrl(d.url);
  if (u) window.open(u, '_blank', 'noopener');
}

function currentReplyMarkup() {
  // The latest bot message that says anything about the reply keyboard wins.
  let found = null;
  for (const id of [...S.entries.keys()].sort((a, b) => a - b)) {
    const x = S.entries.get(id);
    if (!x.from_bot || x.deleted) continue;
    const rm = x.markup || x.message.reply_markup;
    if (rm && (rm.keyboard || rm.remove_keyboard || rm.force_reply)) found = { id, rm };
  }
  return found;
}

function renderReplyKb() {
  const box = $('reply-kb');
  const cur = currentReplyMarkup();
  // A force-reply and a one-time keyboard are spent once the user has written after them.
  const spent = cur && [...S.entries.values()]
    .some((x) => !x.from_bot && x.message.message_id > cur.id && x.message.from?.id === S.user?.id);
  S.forceReply = cur?.rm.force_reply && !spent ? cur.id : null;
  const hide = !cur?.rm.keyboard || (spent && cur.rm.one_time_keyboard);
  $('text').placeholder = (S.forceReply || !hide) && cur.rm.input_field_placeholder || (S.forceReply ? 'Reply to the bot…' : 'Message');
  if (hide) { box.hidden = true; return; }
  box.replaceChildren(...cur.rm.keyboard.map((row) => h('div', { class: 'ikb-row' }, row.map((b) => {
    const btn = typeof b === 'string' ? { text: b } : b;
    return h('button', { type: 'button', onclick: () => pressReply(btn) }, btn.text);
  }))));
  box.hidden = false;
}

async function pressReply(b) {
  if (b.request_contact) {
    const phone = `+1555${String(S.user.id).padStart(7, '0').slice(-7)}`;
    return send('contact', { phone_number: phone, first_name: S.user.first_name, last_name: S.user.last_name });
  }
  if (b.request_location) return askLocation();
  if (b.web_app) {
    // No page is opened: ask for what it would send with Telegram.WebApp.sendData.
    const data = window.prompt(`Data the Web App ${b.web_app.url} sends back:`, '{}');
    return data ? send('web_app_data', { data, button_text: b.text }) : null;
  }
  if (b.request_poll || b.request_users || b.request_user || b.request_chat) {
    return toast('This button type is not supported by the sandbox chat');
  }
  return sendText(b.text);
}

// ---------- acting as the user ----------
function act(kind, extra) {
  const body = { bot_id: S.bot.id, user_id: S.user.id, ...extra };
  if (!isPrivate()) body.chat_id = S.chat.id;
  return api('POST', `/sandbox/act/${kind}`, body);
}

async function send(kind, extra, before) {
  try {
    const r = await act(kind, extra);
    if (r?.message) before?.(r.message);
    if (r?.message) upsert({ message: r.message, from_bot: false });
    return r;
  } catch (e) { toast(e.message); return null; }
}

function sendText(raw) {
  const text = raw.trim();
  if (!text || !S.chat) return null;
  const cmd = /^\/([A-Za-z0-9_]{1,64})(?:@\S*)?(?:\s+([\s\S]*))?$/.exec(text);
  if (cmd) return send('command', { command: cmd[1], ...(cmd[2] ? { payload: cmd[2] } : {}) });
  const reply = S.forceReply != null ? { reply_to_message_id: S.forceReply } : {};
  return send('text', { text, ...reply });
}

const askLocation = () => $('loc-dialog').showModal();

// ---------- wiring ----------
function wire() {
  const ta = $('text');
  const grow = () => { ta.style.height = 'auto'; ta.style.height = `${Math.min(ta.scrollHeight, 140)}px`; };
  const take = (id) => { const v = $(id).value.trim(); $(id).value = ''; grow(); return v; };
  ta.addEventListener('input', grow);
  ta.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); $('composer').requestSubmit(); }
  });
  $('composer').addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = take('text');
    if (text && !(await sendText(text))) ta.value = ta.value || text; // keep the text if sending failed
    ta.focus();
  });
  $('photo-btn').addEventListener('click', () => $('photo-input').click());
  $('photo-input').addEventListener('change', (e) => { // the text typed so far becomes the caption
    const file = e.target.files[0];
    e.target.value = '';
    if (!file) return;
    const rd = new FileReader();
    rd.onload = () => {
      const dataUrl = String(rd.result);
      const caption = take('text');
      // Shown from the local copy: the control API gives users no file URL.
      send('photo', { data_base64: dataUrl.slice(dataUrl.indexOf(',') + 1), ...(caption ? { caption } : {}) },
        (m) => m.photo?.forEach((p) => S.localFiles.set(p.file_id, dataUrl)));
    };
    rd.readAsDataURL(file);
  });
  $('loc-btn').addEventListener('click', askLocation);
  $('loc-cancel').addEventListener('click', () => $('loc-dialog').close());
  $('loc-form').addEventListener('submit', (e) => {
    e.preventDefault();
    $('loc-dialog').close();
    send('location', { latitude: Number($('lat').value), longitude: Number($('lon').value) });
  });
  $('back').addEventListener('click', () => document.querySelector('.app').classList.remove('in-chat'));

  $('bot-select').addEventListener('change', (e) => selectPair(Number(e.target.value), S.user?.id));
  $('user-select').addEventListener('change', (e) => selectPair(S.bot?.id, Number(e.target.value)));
  // The sidebar forms: each creates something, reloads the world and opens the right chat.
  const on = (id, ev, fn) => $(id).addEventListener(ev, async (e) => {
    e.preventDefault();
    try { await fn(); } catch (err) { toast(err.message); }
  });
  on('bot-form', 'submit', async () => {
    const bot = await api('POST', '/sandbox/bots', { token: take('bot-token') });
    await loadWorld();
    selectPair(bot.id, S.user?.id);
  });
  on('user-form', 'submit', async () => {
    const user = await api('POST', '/sandbox/users', { first_name: take('user-name') });
    await loadWorld();
    selectPair(S.bot?.id, user.id);
  });
  on('group-form', 'submit', async () => {
    if (!S.bot || !S.user) return toast('Pick a bot and a user first');
    const chat = await api('POST', '/sandbox/groups',
      { title: take('group-title'), type: $('group-type').value, members: [S.user.id], bots: [S.bot.id] });
    await loadWorld();
    openChat(S.groups.find((g) => g.id === chat.id) || chat);
  });
  on('join-btn', 'click', async () => {
    await api('POST', `/sandbox/groups/${S.chat.id}/join`, { user_id: S.user.id });
    await loadWorld();
    openChat(S.groups.find((g) => g.id === S.chat.id) || S.chat); // reload: shows the join message
  });
}

async function main() {
  wire();
  try { await loadWorld(); } catch (e) { return showBanner(`Cannot reach the sandbox control API: ${e.message}`); }
  let q = new URLSearchParams(location.search);
  const linked = q.has('bot') || q.has('user') || q.has('chat');
  if (!linked) q = new URLSearchParams(localStorage.getItem('ferrogram.sandbox.last') || '');
  const num = (k) => (q.get(k) ? Number(q.get(k)) : undefined);
  selectPair(num('bot'), num('user'), num('chat'));
  if (!linked) document.querySelector('.app').classList.remove('in-chat'); // on a phone, start at the list
}

main();
