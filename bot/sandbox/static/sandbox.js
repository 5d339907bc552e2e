// The sandbox page: an ambassador's Telegram chat beside the office's Slack.
//
// Everything it shows comes from /api/… on the same server, and everything that changes
// arrives on one server-sent-events stream (/api/events), so nothing needs a refresh.
// No framework and no build step: a few render functions and plain DOM.
"use strict";

const S = {
  info: null,            // /api/state: the scheme, the people, the clock, the pieces
  ambassador: null,      // the Telegram user id whose phone is shown
  actor: null,           // the Slack user id the office side acts as
  pane: { kind: "channel", id: null },   // or { kind: "home" }
  channels: [],
  users: [],
  seen: {},              // channel id → messages already looked at (unread badges)
  commands: [],
  modalView: null,
};

// -- small helpers -------------------------------------------------------------------------

const $ = (selector, root = document) => root.querySelector(selector);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}

function html(markup) {
  const template = document.createElement("template");
  template.innerHTML = markup;
  return template.content;
}

function debounce(fn, ms = 60) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

function hhmm(seconds) {
  if (!seconds) return "";
  return new Date(Number(seconds) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
}

function initials(name) {
  return String(name || "?").split(/\s+/).map((part) => part[0] || "").join("").slice(0, 2).toUpperCase();
}

let toastTimer = null;
function toast(message, bad = false) {
  const box = $("#toast");
  box.textContent = message;
  box.className = "page-toast" + (bad ? " bad" : "");
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, bad ? 6000 : 3500);
}

async function api(path, options = {}) {
  const init = { method: options.method || (options.json !== undefined || options.form ? "POST" : "GET") };
  if (options.json !== undefined) {
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(options.json);
  } else if (options.form) {
    init.body = options.form;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    toast("The sandbox is not answering — is it still running?", true);
    throw error;
  }
  let data = null;
  try { data = await response.json(); } catch (error) { data = null; }
  if (!response.ok || (data && data.error)) {
    const sentence = (data && data.error) || `${response.status} ${response.statusText}`;
    toast(sentence, true);
    throw new Error(sentence);
  }
  if (data && data.warning) toast(data.warning);
  return data;
}

// -- Slack's mrkdwn and Telegram's formatting, rendered safely -----------------------------

function mrkdwn(source) {
  // Slack escapes &, < and > in text; <…> are links, mentions and channel names.
  const saved = [];
  const keep = (markup) => `\u0000${saved.push(markup) - 1}\u0000`;
  let text = String(source ?? "").replace(/\u0000/g, "");
  text = text.replace(/```([\s\S]*?)```/g, (_, code) => keep(`<pre>${esc(unslack(code))}</pre>`));
  text = text.replace(/`([^`\n]+)`/g, (_, code) => keep(`<code>${esc(unslack(code))}</code>`));
  text = text.replace(/<([^<>\n]+)>/g, (_, inner) => keep(special(inner)));
  text = esc(unslack(text));
  text = text.replace(/(^|[\s(])\*([^*\n]+)\*(?=[\s).,!?:;]|$)/g, "$1<b>$2</b>");
  text = text.replace(/(^|[\s(])_([^_\n]+)_(?=[\s).,!?:;]|$)/g, "$1<i>$2</i>");
  text = text.replace(/(^|[\s(])~([^~\n]+)~(?=[\s).,!?:;]|$)/g, "$1<s>$2</s>");
  text = text.replace(/^&gt; ?(.*)$/gm, "<blockquote>$1</blockquote>");
  text = text.replace(/\n/g, "<br>");
  return text.replace(/\u0000(\d+)\u0000/g, (_, index) => saved[Number(index)]);
}

function unslack(text) {
  return String(text).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function special(inner) {
  const [target, label] = inner.split("|", 2);
  if (target.startsWith("@")) {
    const user = S.users.find((u) => u.id === target.slice(1));
    return `<span class="sl-mention">@${esc(label || (user ? user.real_name : target.slice(1)))}</span>`;
  }
  if (target.startsWith("#")) {
    const channel = S.channels.find((c) => c.id === target.slice(1));
    return `<span class="sl-mention">#${esc(label || (channel ? channel.name : target.slice(1)))}</span>`;
  }
  if (target.startsWith("!")) return `<span class="sl-mention">@${esc(label || target.slice(1).split("^")[0])}</span>`;
  if (/^(https?:|mailto:)/.test(target)) {
    return `<a href="${esc(target)}" target="_blank" rel="noopener">${esc(unslack(label || target))}</a>`;
  }
  return esc(unslack(label || target));
}

function plain(obj) {
  if (!obj) return "";
  return typeof obj === "string" ? obj : String(obj.text ?? "");
}

function textObject(obj) {
  // A Block Kit text object: mrkdwn is formatted, plain_text shown as typed.
  if (!obj) return "";
  if (obj.type === "mrkdwn") return mrkdwn(obj.text);
  return esc(obj.text).replace(/\n/g, "<br>");
}

function safeUrl(url) {
  // Links from messages open only as web (or Telegram) addresses, never as javascript: etc.
  const text = String(url ?? "").trim();
  return /^(https?:\/\/|tg:\/\/|mailto:)/i.test(text) ? text : null;
}

function openLink(url) {
  const safe = safeUrl(url);
  if (safe) window.open(safe, "_blank", "noopener");
  else toast("That link can't be opened from the sandbox.", true);
}

function linkify(text) {
  return esc(text).replace(/\bhttps?:\/\/[^\s<]+/g, (url) => `<a href="${url}" target="_blank" rel="noopener">${url}</a>`);
}

function telegramText(text, parseMode) {
  if (parseMode === "HTML") {
    let safe = esc(text);
    safe = safe.replace(/&lt;(\/?)(b|strong|i|em|u|ins|s|strike|del|code|pre|blockquote|tg-spoiler)&gt;/g, "<$1$2>");
    safe = safe.replace(/&lt;a href=&quot;(https?:\/\/(?:[^&"\s]|&amp;)+)&quot;&gt;/g, '<a href="$1" target="_blank" rel="noopener">');
    return safe.replace(/&lt;\/a&gt;/g, "</a>");
  }
  if (parseMode && parseMode.startsWith("Markdown")) {
    return linkify(text.replace(/\\(.)/g, "$1").replace(/[*_~]/g, ""));
  }
  return linkify(text);
}

// -- the toolbar and the status line ---------------------------------------------------------

// The header follows the bot's clock between moves: the server's "now" is kept as a distance
// from this browser's clock and the label drawn again every second, so it never stands still
// while App Home and the messages move on. Each move of the clock (and each reconnection)
// brings the server's "now" again.
const CLOCK = { skew: null, offsetHours: 0, label: "", zone: null, timer: null };

function setClock(clock) {
  if (!clock) return;
  const now = Date.parse(clock.now);
  CLOCK.skew = Number.isNaN(now) ? null : now - Date.now();
  CLOCK.offsetHours = clock.offset_hours;
  CLOCK.label = clock.label;
  drawClock();
  if (!CLOCK.timer) CLOCK.timer = setInterval(drawClock, 1000);
}

function clockLabel(moment, zone) {
  // The bot's own format (storage.parsers.format_when): "Fri 4 Dec 2026, 17:22".
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
    timeZone: zone, weekday: "short", day: "numeric", month: "short", year: "numeric",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(moment).map((part) => [part.type, part.value]));
  return `${parts.weekday} ${parts.day} ${parts.month} ${parts.year}, ${parts.hour}:${parts.minute}`;
}

function drawClock() {
  let label = CLOCK.label;
  const zone = S.info && S.info.scheme.timezone;
  if (CLOCK.skew !== null && zone) {
    try { label = clockLabel(new Date(Date.now() + CLOCK.skew), zone); } catch (error) { /* keep the server's */ }
  }
  const text = label + (CLOCK.offsetHours ? ` (+${formatOffset(CLOCK.offsetHours)})` : "");
  const box = $("#clock");
  if (box.textContent !== text) box.textContent = text;
}

function formatOffset(hours) {
  const days = Math.floor(hours / 24);
  const rest = Math.round(hours - days * 24);
  return [days ? `${days}d` : "", rest ? `${rest}h` : ""].filter(Boolean).join(" ") || "0h";
}

function renderPieces(pieces) {
  if (S.info) S.info.pieces = pieces;
  $("#pieces").replaceChildren(...pieces.map((piece) => el("span", {
    class: "piece" + (piece.running ? " on" : ""), title: piece.note, "data-piece": piece.key,
    "data-running": piece.running ? "yes" : "no",
  }, piece.label)));
}

function pieceRunning(key) {
  const piece = ((S.info && S.info.pieces) || []).find((p) => p.key === key);
  return Boolean(piece && piece.running);
}

async function advance(hours, button) {
  button.disabled = true;
  try {
    const data = await api("/api/clock", { json: { hours } });
    setClock(data.clock);
    toast(`The clock moved on to ${data.clock.label}.` + (data.ran && data.ran.length ? ` Ran: ${data.ran.join(", ")}.` : ""));
  } finally {
    button.disabled = false;
  }
}

// -- the phone (Telegram) ------------------------------------------------------------------

function ambassador() {
  return S.info.ambassadors.find((a) => a.telegram_id === S.ambassador);
}

const refreshChat = debounce(() => loadChat().catch(() => {}));

async function loadChat() {
  const id = S.ambassador;
  if (!id) return;
  const data = await api(`/api/telegram/chats/${id}`);
  if (id !== S.ambassador) return;
  S.commands = data.commands || [];
  // One more character than the bot takes for the question being asked, so a long paste
  // reaches the bot and is refused in its words rather than cut short here.
  if (data.max_length) $("#message").maxLength = data.max_length;
  renderChat(data);
}

function renderChat(data) {
  const chat = $("#chat");
  const atBottom = chat.scrollHeight - chat.scrollTop - chat.clientHeight < 80;
  const messages = data.messages;
  const who = ambassador();
  if (!messages.length) {
    chat.replaceChildren(el("div", { class: "chat-empty" },
      `This is ${who.name}'s phone, the ambassador for ${who.area}. `,
      el("br"), "Tap START (or use ☰ Menu) to talk to the bot."));
  } else {
    chat.replaceChildren(...messages.map(renderTelegramMessage));
  }
  $("#start").hidden = messages.length > 0;
  $("#composer").hidden = messages.length === 0;
  renderReplyKeyboard(data.reply_keyboard);
  if (atBottom || renderChat.last !== S.ambassador) chat.scrollTop = chat.scrollHeight;
  renderChat.last = S.ambassador;
}

function renderTelegramMessage(m) {
  const wrap = el("div", { class: `bubble-wrap ${m.from_bot ? "bot" : "me"}`, "data-message-id": m.message_id });
  const bubble = el("div", { class: "bubble", "data-testid": m.from_bot ? "bot-message" : "my-message" });
  if (m.kind === "photo" && m.file_url) bubble.append(el("img", { src: m.file_url, alt: "photo" }));
  else if (m.kind !== "text") {
    const names = { video: "🎬 Video", document: "📄 File", sticker: "🙂 Sticker", voice: "🎤 Voice note", location: "📍 Location" };
    bubble.append(el("div", { class: "muted" }, names[m.kind] || m.kind));
  }
  const text = m.text ?? m.caption ?? "";
  if (text) bubble.append(html(telegramText(text, m.parse_mode)));
  bubble.append(el("span", { class: "meta" }, (m.edited ? "edited " : "") + hhmm(m.date)));
  wrap.append(bubble);
  if (m.keyboard && m.keyboard.length) {
    wrap.append(el("div", { class: "keyboard" }, m.keyboard.map((row) => el("div", { class: "kb-row" },
      row.map((button) => el("button", {
        type: "button", class: "kb-btn" + (button.url ? " url" : ""), "data-testid": "inline-button",
        onclick: (event) => (button.url ? openLink(button.url)
          : press(m.message_id, button.data, event.currentTarget)),
      }, button.text))))));
  }
  return wrap;
}

function renderReplyKeyboard(rows) {
  const box = $("#reply-keyboard");
  box.hidden = !(rows && rows.length);
  box.replaceChildren(...(rows || []).flat().map((label) => el("button", {
    type: "button", onclick: () => sendText(label),
  }, label)));
}

async function press(messageId, data, button) {
  button.disabled = true;
  try {
    await api(`/api/telegram/chats/${S.ambassador}/press`, { json: { message_id: messageId, data } });
  } finally {
    setTimeout(() => { button.disabled = false; }, 400);
  }
}

async function sendText(text) {
  if (!text.trim()) return;
  $("#commands").hidden = true;
  await api(`/api/telegram/chats/${S.ambassador}/text`, { json: { text } });
}

async function sendDocument(file) {
  const form = new FormData();
  form.append("document", file, file.name);
  const caption = $("#message").value.trim();
  if (caption) form.append("caption", caption);
  $("#message").value = "";
  await api(`/api/telegram/chats/${S.ambassador}/document`, { form });
}

function toggleAttach(show) {
  const menu = $("#attach-menu");
  const open = show === undefined ? menu.hidden : show;
  menu.hidden = !open;
  $("#attach").setAttribute("aria-expanded", open ? "true" : "false");
}

function attach(kind) {
  toggleAttach(false);
  $("#commands").hidden = true;
  if (kind === "photo") $("#photo").click();
  else if (kind === "document") $("#document").click();
  else {
    $("#location-form").hidden = false;
    $("#latitude").focus();
  }
}

async function sendLocation(event) {
  event.preventDefault();
  const latitude = $("#latitude").value.trim();
  const longitude = $("#longitude").value.trim();
  await api(`/api/telegram/chats/${S.ambassador}/location`, { json: { latitude, longitude } });
  $("#location-form").hidden = true;
}

async function sendPhoto(file) {
  const form = new FormData();
  form.append("photo", file, file.name);
  const caption = $("#message").value.trim();
  if (caption) form.append("caption", caption);
  $("#message").value = "";
  await api(`/api/telegram/chats/${S.ambassador}/photo`, { form });
}

function toggleCommands() {
  const box = $("#commands");
  if (!box.hidden) { box.hidden = true; return; }
  const commands = S.commands.length ? S.commands : [["start", "Start the bot"]];
  box.replaceChildren(...commands.map(([command, description]) => el("button", {
    type: "button", class: "command", "data-command": command,
    onclick: () => sendText(`/${command}`),
  }, el("b", {}, `/${command}`), el("span", {}, description))));
  box.hidden = false;
}

let phoneToastTimer = null;
function phoneToast(text) {
  const box = $("#phone-toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(phoneToastTimer);
  phoneToastTimer = setTimeout(() => { box.hidden = true; }, 2500);
}

// -- Slack: the sidebar --------------------------------------------------------------------

const refreshChannels = debounce(() => loadChannels().catch(() => {}), 120);

async function loadChannels() {
  const data = await api("/api/slack/channels");
  S.channels = data.channels;
  S.users = data.users;
  renderSidebar();
}

function navButton(channel, label, testid) {
  const active = S.pane.kind === "channel" && S.pane.id === channel.id;
  if (active) S.seen[channel.id] = channel.message_count;
  const unread = channel.message_count - (S.seen[channel.id] || 0);
  return el("li", {}, el("button", {
    type: "button", class: "nav" + (active ? " active" : "") + (unread > 0 ? " unread" : ""),
    "data-channel": channel.name, "data-testid": testid,
    onclick: () => openChannel(channel.id),
  }, label, unread > 0 && !active ? el("span", { class: "badge" }, unread) : null));
}

function renderSidebar() {
  const order = S.info.channels.map((c) => c.name);
  const channels = S.channels.filter((c) => !c.is_im)
    .sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  $("#channel-list").replaceChildren(...channels.map((c) => navButton(c, `# ${c.name}`, "channel")));
  const dms = S.channels.filter((c) => c.is_im && c.user === S.actor);
  $("#dm-list").replaceChildren(...dms.map((c) => navButton(c, `🤖 ${S.info.bot.first_name}`, "dm")));
  $("#home-link").classList.toggle("active", S.pane.kind === "home");
}

function openChannel(id) {
  S.pane = { kind: "channel", id };
  localStorage.setItem("sandbox.channel", id);
  renderSidebar();
  loadPane(true).catch(() => {});
}

async function openHome() {
  S.pane = { kind: "home" };
  renderSidebar();
  await loadPane(true);
  if (pieceRunning("slack")) {
    // Slack tells the app its Home was opened; the app publishes it afresh.
    await api("/api/slack/home-opened", { json: { user: S.actor } });
  }
}

// -- Slack: the main pane ------------------------------------------------------------------

const refreshPane = debounce(() => loadPane().catch(() => {}), 80);

async function loadPane(reset = false) {
  const pane = S.pane;
  const actor = S.actor;
  if (pane.kind === "home") {
    const data = await api(`/api/slack/users/${actor}/home`);
    if (S.pane !== pane || S.actor !== actor) return;
    renderHome(data.view, reset);
  } else if (pane.id) {
    const data = await api(`/api/slack/channels/${encodeURIComponent(pane.id)}?user=${actor}`);
    if (S.pane !== pane || S.actor !== actor) return;
    renderChannel(data, reset);
  }
}

function actorName() {
  const person = S.info.office.find((p) => p.slack_id === S.actor);
  return person ? person.name : S.actor;
}

function renderChannel(data, reset) {
  const box = $("#slack-messages");
  const pane = S.pane;
  const atBottom = reset || box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const channel = data.channel;
  $("#slack-title").textContent = channel.is_im ? `🤖 ${S.info.bot.first_name}` : `# ${channel.name}`;
  $("#slack-subtitle").textContent = channel.is_im ? `your direct messages with the app, as ${actorName()}` : "";
  $("#slack-composer").hidden = false;
  const all = [...data.messages, ...data.ephemerals].sort((a, b) => Number(a.ts) - Number(b.ts));
  if (!all.length) {
    const waiting = pieceRunning("dispatcher") ? "Nothing here yet." :
      "Nothing here yet: the outbox dispatcher is not in this build, so the office's posts " +
      "wait in the Outbox below.";
    box.replaceChildren(el("div", { class: "slack-empty" }, waiting));
  } else {
    box.replaceChildren(...all.map(renderSlackMessage));
  }
  if (atBottom) {
    box.scrollTop = box.scrollHeight;
    // Pictures (a photo for review, the digest's chart) grow the pane as they load.
    for (const img of box.querySelectorAll("img")) {
      img.addEventListener("load", () => { if (S.pane === pane) box.scrollTop = box.scrollHeight; }, { once: true });
    }
  }
}

function renderHome(view, reset) {
  const box = $("#slack-messages");
  $("#slack-title").textContent = "🏠 App Home";
  $("#slack-subtitle").textContent = `as ${actorName()}`;
  $("#slack-composer").hidden = true;
  if (!view) {
    box.replaceChildren(el("div", { class: "slack-empty" }, pieceRunning("slack")
      ? "Opening App Home…" : "App Home is published by the Slack app, which is not in this build yet."));
    return;
  }
  const top = box.scrollTop;
  box.replaceChildren(el("div", { class: "sl-msg home", "data-testid": "home" },
    el("div", { class: "sl-body" }, renderBlocks(view.blocks || [], { kind: "view", view_id: view.id }))));
  box.scrollTop = reset ? 0 : top;
}

function renderSlackMessage(m) {
  const name = m.author || "Someone";
  const reply = Boolean(m.thread_ts && m.thread_ts !== m.ts);
  const row = el("div", {
    class: "sl-msg" + (m.ephemeral_to ? " ephemeral" : "") + (reply ? " reply" : ""), "data-ts": m.ts,
    "data-testid": "slack-message", "data-thread-ts": reply ? m.thread_ts : null,
  });
  row.append(el("div", { class: "avatar" + (m.from_bot ? "" : " person") }, m.from_bot ? "AB" : initials(name)));
  const body = el("div", { class: "sl-body" });
  body.append(el("div", { class: "sl-head" },
    el("span", { class: "sl-author" }, name), m.from_bot ? el("span", { class: "sl-app" }, "APP") : null,
    el("span", { class: "sl-time" }, hhmm(m.ts)),
    m.edit_count ? el("span", { class: "sl-edited" }, "(edited)") : null,
    reply ? el("span", { class: "sl-thread" }, "↳ in the thread") : null));
  const context = { kind: "message", channel: m.channel, ts: m.ts, ephemeral: Boolean(m.ephemeral_to) };
  if (m.blocks && m.blocks.length) body.append(renderBlocks(m.blocks, context));
  else body.append(el("div", { class: "sl-text" }, html(mrkdwn(m.text))));
  for (const attachment of m.attachments || []) {
    if (attachment.blocks) body.append(renderBlocks(attachment.blocks, context));
    else if (attachment.text || attachment.fallback) body.append(el("div", { class: "sl-text" }, html(mrkdwn(attachment.text || attachment.fallback))));
  }
  for (const file of m.files || []) {
    // Served by the sandbox itself (/api/slack/files/…), pictures only as pictures.
    const label = file.title || file.name || "file";
    body.append(el("div", { class: "sl-file", "data-testid": "slack-file" },
      file.src && file.is_image ? el("a", { href: file.src, target: "_blank", rel: "noopener" },
        el("img", { src: file.src, alt: file.alt_txt || label, "data-testid": "slack-image" })) : null,
      el("div", {}, "📎 ", file.src ? el("a", { href: file.src, target: "_blank", rel: "noopener" }, label)
        : el("span", { class: "muted" }, `${label} (still uploading)`))));
  }
  if (m.ephemeral_to) body.append(el("div", { class: "blk-context" }, "👁 Only visible to you"));
  row.append(body);
  return row;
}

// -- Block Kit ------------------------------------------------------------------------------

function renderBlocks(blocks, context) {
  const box = el("div", { class: "blocks" });
  for (const block of blocks) {
    const node = renderBlock(block, context);
    if (node) box.append(node);
  }
  return box;
}

function renderBlock(block, context) {
  const id = block.block_id;
  switch (block.type) {
    case "header":
      return el("div", { class: "blk-header" }, plain(block.text));
    case "divider":
      return el("hr", { class: "blk-divider" });
    case "section": {
      const main = el("div", { class: "sl-text" });
      if (block.text) main.append(html(textObject(block.text)));
      if (block.fields && block.fields.length) {
        main.append(el("div", { class: "blk-fields" }, block.fields.map((f) => el("div", {}, html(textObject(f))))));
      }
      const node = el("div", { class: "blk-section", "data-block-id": id }, main);
      if (block.accessory) node.append(el("div", { class: "accessory" }, renderElement(block.accessory, id, context)));
      return node;
    }
    case "context":
      return el("div", { class: "blk-context" }, (block.elements || []).map((e) => (e.type === "image"
        ? el("img", { src: imageSource(e), alt: e.alt_text || "" }) : el("span", {}, html(textObject(e))))));
    case "actions":
    case "context_actions":
      return el("div", { class: "blk-actions", "data-block-id": id },
        (block.elements || []).map((e) => renderElement(e, id, context)));
    case "image":
      return el("div", { class: "blk-image" }, block.title ? el("div", { class: "caption" }, plain(block.title)) : null,
        el("img", { src: imageSource(block), alt: block.alt_text || "" }));
    case "input":
      return renderInput(block, context);
    case "markdown":
      return el("div", { class: "sl-text" }, html(mrkdwn(block.text)));
    case "rich_text":
      return el("div", { class: "sl-text" }, richText(block.elements || []));
    default:
      return el("div", { class: "blk-context" }, `[${block.type} block]`);
  }
}

function imageSource(block) {
  // An uploaded file (slack_file) comes from the sandbox; otherwise only http(s) pictures.
  if (block.slack_file && block.slack_file.id) return `/api/slack/files/${encodeURIComponent(block.slack_file.id)}`;
  return safeUrl(block.image_url || (block.slack_file && block.slack_file.url)) || "";
}

function richText(elements) {
  const parts = [];
  const walk = (items) => {
    for (const item of items || []) {
      if (item.type === "text") parts.push(item.text);
      else if (item.type === "link") parts.push(item.text || item.url);
      else if (item.type === "user") parts.push("@" + item.user_id);
      else if (item.type === "emoji") parts.push(`:${item.name}:`);
      if (item.elements) { walk(item.elements); if (item.type !== "rich_text_section") parts.push("\n"); }
    }
  };
  walk(elements);
  return parts.join("");
}

function optionsOf(element) {
  const options = [...(element.options || [])];
  for (const group of element.option_groups || []) options.push(...(group.options || []));
  return options;
}

function selectFor(element, items, selected, multiple = false) {
  const select = el("select", { class: "sl-select", multiple: multiple || undefined, size: multiple ? Math.min(items.length, 6) : undefined });
  if (!multiple) select.append(el("option", { value: "" }, plain(element.placeholder) || "Choose…"));
  for (const [value, label] of items) {
    select.append(el("option", { value, selected: selected.includes(value) || undefined }, label));
  }
  return select;
}

function userItems() {
  return S.users.map((u) => [u.id, u.real_name || u.name]);
}

function channelItems() {
  return S.channels.filter((c) => !c.is_im).map((c) => [c.id, `#${c.name}`]);
}

function renderElement(element, blockId, context) {
  const action = { action_id: element.action_id, block_id: blockId };
  switch (element.type) {
    case "button": {
      const button = el("button", { type: "button", class: `sl-btn ${element.style || ""}`, "data-action-id": element.action_id }, plain(element.text));
      button.addEventListener("click", async () => {
        if (element.url) { openLink(element.url); return; }
        if (element.confirm && !(await confirmDialog(element.confirm))) return;
        await act(context, { ...action, value: element.value }, button);
      });
      return button;
    }
    case "static_select":
    case "external_select":
    case "overflow": {
      const select = selectFor(element, optionsOf(element).map((o) => [o.value, plain(o.text)]),
        element.initial_option ? [element.initial_option.value] : []);
      if (element.type === "overflow") select.firstChild.textContent = "⋯";
      select.addEventListener("change", () => select.value && act(context, { ...action, selected_option: select.value }, select));
      return select;
    }
    case "users_select": {
      const select = selectFor(element, userItems(), element.initial_user ? [element.initial_user] : []);
      select.dataset.actionId = element.action_id;
      select.addEventListener("change", () => select.value && act(context, { ...action, selected_user: select.value }, select));
      return select;
    }
    case "conversations_select":
    case "channels_select": {
      const select = selectFor(element, channelItems(), []);
      select.addEventListener("change", () => select.value && act(context, { ...action, value: select.value }, select));
      return select;
    }
    case "datepicker":
    case "timepicker": {
      const input = el("input", { class: "sl-input", type: element.type === "datepicker" ? "date" : "time",
        value: element.initial_date || element.initial_time || "" });
      input.addEventListener("change", () => input.value && act(context, { ...action, value: input.value }, input));
      return input;
    }
    case "radio_buttons":
    case "checkboxes": {
      const box = el("div", { class: "choices" });
      for (const option of optionsOf(element)) {
        const input = el("input", { type: element.type === "radio_buttons" ? "radio" : "checkbox", name: element.action_id, value: option.value });
        input.addEventListener("change", () => act(context, { ...action, selected_option: option.value }, input));
        box.append(el("label", {}, input, " ", plain(option.text)));
      }
      return box;
    }
    case "image":
      return el("img", { src: imageSource(element), alt: element.alt_text || "" });
    default:
      return el("span", { class: "muted" }, `[${element.type}]`);
  }
}

async function act(context, action, control) {
  const body = { user: S.actor, ...action };
  if (context.view_id) body.view_id = context.view_id;
  else Object.assign(body, { channel: context.channel, ts: context.ts, ephemeral: context.ephemeral });
  if (control) control.disabled = true;
  try {
    await api("/api/slack/click", { json: body });
  } finally {
    if (control) setTimeout(() => { control.disabled = false; }, 600);
    refreshPane();
    refreshViews();
  }
}

function confirmDialog(confirm) {
  return new Promise((resolve) => {
    $("#confirm-title").textContent = plain(confirm.title) || "Are you sure?";
    $("#confirm-text").replaceChildren(html(textObject(confirm.text)));
    $("#confirm-yes").textContent = plain(confirm.confirm) || "Confirm";
    $("#confirm-no").textContent = plain(confirm.deny) || "Cancel";
    const box = $("#confirm");
    box.hidden = false;
    const done = (answer) => {
      box.hidden = true;
      $("#confirm-yes").onclick = null;
      $("#confirm-no").onclick = null;
      resolve(answer);
    };
    $("#confirm-yes").onclick = () => done(true);
    $("#confirm-no").onclick = () => done(false);
  });
}

// -- modals ----------------------------------------------------------------------------------

const TEXT_KINDS = ["plain_text_input", "number_input", "email_text_input", "url_text_input", "rich_text_input"];

function renderInput(block, context) {
  const element = block.element || {};
  const kind = element.type;
  const wrap = el("div", { class: "blk-input", "data-block-id": block.block_id, "data-action-id": element.action_id,
    "data-kind": kind, "data-optional": block.optional ? "yes" : "no" });
  const label = el("label", {}, plain(block.label), block.optional ? el("span", { class: "optional" }, " (optional)") : null);
  let control;
  if (TEXT_KINDS.includes(kind)) {
    const attrs = { class: "sl-input wide", name: block.block_id, placeholder: plain(element.placeholder),
      maxlength: element.max_length, value: element.initial_value || "" };
    if (element.multiline || kind === "rich_text_input") {
      control = el("textarea", { ...attrs, class: "sl-textarea" }, typeof element.initial_value === "string" ? element.initial_value : "");
    } else {
      control = el("input", { ...attrs, type: kind === "email_text_input" ? "email" : kind === "url_text_input" ? "url" : "text",
        inputmode: kind === "number_input" ? "decimal" : undefined });
    }
  } else if (kind === "static_select" || kind === "external_select") {
    control = selectFor(element, optionsOf(element).map((o) => [o.value, plain(o.text)]),
      element.initial_option ? [element.initial_option.value] : []);
  } else if (kind === "multi_static_select" || kind === "multi_external_select") {
    control = selectFor(element, optionsOf(element).map((o) => [o.value, plain(o.text)]),
      (element.initial_options || []).map((o) => o.value), true);
  } else if (kind === "users_select" || kind === "multi_users_select") {
    control = selectFor(element, userItems(), [].concat(element.initial_user || element.initial_users || []), kind.startsWith("multi"));
  } else if (kind === "conversations_select" || kind === "channels_select") {
    control = selectFor(element, channelItems(), []);
  } else if (kind === "checkboxes" || kind === "radio_buttons") {
    const initial = [].concat(element.initial_options || element.initial_option || []).map((o) => o.value);
    control = el("div", { class: "choices" }, optionsOf(element).map((option) => el("label", {},
      el("input", { type: kind === "checkboxes" ? "checkbox" : "radio", name: block.block_id, value: option.value,
        checked: initial.includes(option.value) || undefined }), " ", plain(option.text))));
  } else if (kind === "datepicker" || kind === "timepicker") {
    control = el("input", { class: "sl-input", type: kind === "datepicker" ? "date" : "time",
      value: element.initial_date || element.initial_time || "" });
  } else {
    control = el("div", { class: "muted" }, `[${kind} input]`);
  }
  control.classList.add("control");
  wrap.append(label, control);
  if (block.hint) wrap.append(el("div", { class: "hint" }, plain(block.hint)));
  const error = (context.errors || {})[block.block_id];
  if (error) {
    wrap.classList.add("invalid");
    wrap.append(el("div", { class: "error", "data-testid": "field-error" }, error));
  }
  return wrap;
}

function inputValue(wrap) {
  const kind = wrap.dataset.kind;
  const control = wrap.querySelector(".control");
  if (kind === "checkboxes") return [...control.querySelectorAll("input:checked")].map((i) => i.value);
  if (kind === "radio_buttons") { const on = control.querySelector("input:checked"); return on ? on.value : ""; }
  if (control.multiple) return [...control.selectedOptions].map((o) => o.value);
  return control.value === undefined ? "" : control.value;
}

function collectValues(form) {
  const values = {};
  let missing = 0;
  for (const wrap of form.querySelectorAll(".blk-input")) {
    wrap.querySelectorAll(".error.local").forEach((node) => node.remove());
    const value = inputValue(wrap);
    const empty = value === "" || (Array.isArray(value) && value.length === 0);
    if (empty) {
      if (wrap.dataset.optional !== "yes") {
        missing += 1;
        wrap.classList.add("invalid");
        wrap.append(el("div", { class: "error local" }, "Please complete this required field."));
      }
      continue;
    }
    values[wrap.dataset.blockId] = { [wrap.dataset.actionId]: value };
  }
  return { values, missing };
}

const refreshViews = debounce(() => loadViews().catch(() => {}), 80);

async function loadViews() {
  const actor = S.actor;
  if (!actor) return;
  const data = await api(`/api/slack/users/${actor}/views`);
  if (actor !== S.actor) return;
  renderModal(data.views.length ? data.views[data.views.length - 1] : null);
}

function renderModal(view) {
  const box = $("#modal");
  if (!view) { box.hidden = true; S.modalView = null; return; }
  const form = $("#modal-form");
  const typed = {};
  if (S.modalView && S.modalView.id === view.id) {
    for (const wrap of form.querySelectorAll(".blk-input")) typed[wrap.dataset.blockId] = inputValue(wrap);
  }
  S.modalView = view;
  $("#modal-title").textContent = plain(view.title);
  $("#modal-body").replaceChildren(renderBlocks(view.blocks || [], { kind: "view", view_id: view.id, errors: view.errors || {} }));
  for (const [blockId, value] of Object.entries(typed)) {
    const wrap = form.querySelector(`.blk-input[data-block-id="${CSS.escape(blockId)}"]`);
    const control = wrap && wrap.querySelector(".control");
    if (!control || Array.isArray(value) || control.tagName === "DIV") continue;
    control.value = value;
  }
  $("#modal-submit").hidden = !view.submit;
  $("#modal-submit").textContent = plain(view.submit) || "Submit";
  $("#modal-close").textContent = plain(view.close) || "Close";
  box.hidden = false;
}

async function submitModal(event) {
  event.preventDefault();
  const view = S.modalView;
  if (!view) return;
  const { values, missing } = collectValues($("#modal-form"));
  if (missing) return;
  const button = $("#modal-submit");
  button.disabled = true;
  try {
    await api("/api/slack/submit", { json: { user: S.actor, view_id: view.id, values } });
  } finally {
    button.disabled = false;
    refreshViews();
    refreshPane();
  }
}

async function closeModal() {
  const view = S.modalView;
  if (!view) return;
  try {
    await api("/api/slack/close", { json: { user: S.actor, view_id: view.id } });
  } finally {
    refreshViews();
  }
}

// -- the outbox ------------------------------------------------------------------------------

const refreshOutbox = debounce(() => loadOutbox().catch(() => {}), 150);

async function loadOutbox() {
  const data = await api("/api/outbox");
  $("#fund").textContent = data.fund.remaining;
  const rows = data.rows;
  // The totals are the server's count over every row, not over the rows shown.
  const totals = data.totals || {};
  const count = (status) => totals[status] || 0;
  const others = Object.entries(totals).filter(([status]) => !["pending", "sent", "failed"].includes(status))
    .map(([status, n]) => `${n.toLocaleString("en-GB")} ${status}`);
  $("#outbox-summary").textContent = [`${count("pending").toLocaleString("en-GB")} waiting`,
    `${count("sent").toLocaleString("en-GB")} delivered`,
    count("failed") ? `${count("failed").toLocaleString("en-GB")} failed` : null, ...others]
    .filter(Boolean).join(" · ") +
    (data.total > rows.length ? ` (latest ${rows.length} of ${data.total.toLocaleString("en-GB")} shown)` : "");
  const note = pieceRunning("dispatcher") ? null : el("div", { class: "ob-note" },
    "No outbox dispatcher in this build yet: every message to Telegram or Slack waits here.");
  $("#outbox-rows").replaceChildren(...[note, ...rows.map((row) => el("div", {
    class: "ob-row", "data-testid": "outbox-row", "data-status": row.status, title: row.error || row.text,
  }, el("span", { class: "muted" }, `#${row.id}`),
  el("time", { class: "ob-time", "data-testid": "outbox-time", title: row.sent ? `written ${row.created}, sent ${row.sent}` : `written ${row.created}` }, row.created),
  el("span", { class: `ob-status ${row.status}` }, row.status),
  el("span", { class: "ob-to" }, row.to), el("span", { class: "ob-text" }, el("b", {}, row.event), " ", row.text)))].filter(Boolean));
}

// -- the tabs (below 1000 px wide: one pane at a time) ---------------------------------------

const NARROW = window.matchMedia("(max-width: 999px)");

function showPane(name) {
  $("#panes").dataset.pane = name;
  localStorage.setItem("sandbox.pane", name);
  for (const tab of document.querySelectorAll(".tab")) {
    const on = tab.dataset.tab === name;
    tab.classList.toggle("active", on);
    tab.setAttribute("aria-selected", on ? "true" : "false");
    if (on) tab.classList.remove("news");
  }
  if (name === "outbox") $("#outbox-panel").open = true;
  if (name === "slack") {
    const active = $("#slack-nav .nav.active");
    if (active) active.scrollIntoView({ block: "nearest", inline: "nearest" });
  }
}

function news(pane) {
  // Something arrived on a pane that is not in view: a dot on its tab.
  if (NARROW.matches && $("#panes").dataset.pane !== pane) $(`.tab[data-tab="${pane}"]`).classList.add("news");
}

// -- start-up and live updates --------------------------------------------------------------

async function loadState() {
  S.info = await api("/api/state");
  renderPieces(S.info.pieces);
  setClock(S.info.clock);
  $("#fund").textContent = S.info.fund.remaining;
  $("#scheme-name").textContent = S.info.scheme.name;
  $("#workspace").textContent = S.info.scheme.office.replace(/^Office of the /, "");
  $("#bot-name").textContent = S.info.bot.first_name;
  $("#bot-status").textContent = `@${S.info.bot.username} · bot`;
}

function choose(param, storageKey, people, idField) {
  const wanted = new URLSearchParams(location.search).get(param);
  const byKey = people.find((p) => p.key === wanted || String(p[idField]) === wanted);
  if (byKey) return byKey[idField];
  const saved = localStorage.getItem(storageKey);
  const bySaved = people.find((p) => String(p[idField]) === saved);
  return (bySaved || people[0])[idField];
}

function fillPickers() {
  const ambassadors = $("#ambassador");
  ambassadors.replaceChildren(...S.info.ambassadors.map((a) => el("option", { value: a.telegram_id }, `${a.name} — ${a.area}`)));
  S.ambassador = Number(choose("ambassador", "sandbox.ambassador", S.info.ambassadors, "telegram_id"));
  ambassadors.value = String(S.ambassador);
  const actors = $("#actor");
  actors.replaceChildren(...S.info.office.map((p) => el("option", { value: p.slack_id }, `${p.name} — ${p.title}`)));
  S.actor = choose("actor", "sandbox.actor", S.info.office, "slack_id");
  actors.value = S.actor;
}

async function refreshAll() {
  await Promise.all([loadChat(), loadChannels(), loadOutbox(), loadViews()]);
  await loadPane();
}

function connect() {
  const events = new EventSource("/api/events");
  events.addEventListener("telegram", (event) => {
    const data = JSON.parse(event.data);
    if (data.type === "callback_answer") {
      if (data.chat_id === S.ambassador && data.text) phoneToast(data.text);
    } else if (data.chat_id === S.ambassador) {
      refreshChat();
      news("phone");
    }
  });
  events.addEventListener("slack", (event) => {
    const data = JSON.parse(event.data);
    if (data.type === "message" || data.type === "ephemeral") {
      refreshChannels();
      news("slack");
      const channel = data.channel || (data.message && data.message.channel);
      if (S.pane.kind === "channel" && channel === S.pane.id) refreshPane();
    } else if (data.type === "view") {
      if (data.user === S.actor) refreshViews();
    } else if (data.type === "home") {
      if (data.user === S.actor && S.pane.kind === "home") refreshPane();
    }
  });
  events.addEventListener("sandbox", (event) => {
    const data = JSON.parse(event.data);
    if (data.type === "outbox") refreshOutbox();
    else if (data.type === "clock") setClock(data.clock);
    else if (data.type === "status") renderPieces(data.pieces);
    else if (data.type === "schedules") toast(`Schedules ran: ${data.ran.join(", ")}`);
    else if (data.type === "restarted") loadState().then(refreshAll).catch(() => {});
  });
  events.onopen = () => {
    document.body.dataset.live = "yes";
    api("/api/clock").then((data) => setClock(data.clock)).catch(() => {});
    refreshAll().catch(() => {});
  };
  events.onerror = () => { document.body.dataset.live = "no"; };
}

function wire() {
  $("#ambassador").addEventListener("change", (event) => {
    S.ambassador = Number(event.target.value);
    localStorage.setItem("sandbox.ambassador", String(S.ambassador));
    $("#commands").hidden = true;
    loadChat().catch(() => {});
  });
  $("#actor").addEventListener("change", (event) => {
    S.actor = event.target.value;
    localStorage.setItem("sandbox.actor", S.actor);
    if (S.pane.kind === "channel" && !S.channels.find((c) => c.id === S.pane.id && !c.is_im)) {
      S.pane = { kind: "channel", id: S.channels.find((c) => !c.is_im).id };
    }
    renderSidebar();
    if (S.pane.kind === "home") openHome().catch(() => {});
    else loadPane(true).catch(() => {});
    loadViews().catch(() => {});
  });
  $("#composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("#message");
    const text = input.value;
    input.value = "";
    sendText(text).catch(() => { input.value = text; });
  });
  $("#start").addEventListener("click", () => sendText("/start"));
  $("#menu-button").addEventListener("click", () => { toggleAttach(false); toggleCommands(); });
  $("#attach").addEventListener("click", () => toggleAttach());
  for (const item of document.querySelectorAll("[data-attach]")) {
    item.addEventListener("click", () => attach(item.dataset.attach));
  }
  $("#photo").addEventListener("change", (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (file) sendPhoto(file).catch(() => {});
  });
  $("#document").addEventListener("change", (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (file) sendDocument(file).catch(() => {});
  });
  $("#location-form").addEventListener("submit", (event) => { sendLocation(event).catch(() => {}); });
  $("#location-cancel").addEventListener("click", () => { $("#location-form").hidden = true; });
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => showPane(tab.dataset.tab));
  }
  $("#home-link").addEventListener("click", () => openHome().catch(() => {}));
  $("#slack-composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("#slack-input");
    const text = input.value.trim();
    if (!text || S.pane.kind !== "channel") return;
    input.value = "";
    const call = text.startsWith("/")
      ? api("/api/slack/command", { json: { user: S.actor, text, channel: S.pane.id } })
      : api("/api/slack/message", { json: { user: S.actor, text, channel: S.pane.id } });
    call.catch(() => { input.value = text; });
  });
  $("#modal-form").addEventListener("submit", submitModal);
  $("#modal-close").addEventListener("click", () => closeModal().catch(() => {}));
  for (const button of document.querySelectorAll("[data-hours]")) {
    button.addEventListener("click", () => advance(Number(button.dataset.hours), button).catch(() => {}));
  }
  $("#digest").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      await api("/api/digest", { json: {} });
      const channel = S.info.channels.find((c) => c.key === "digest");
      toast(pieceRunning("dispatcher") ? `The weekly digest is on its way to #${channel ? channel.name : "digest"} and the Commissioner.`
        : "The weekly digest is in the outbox (no dispatcher in this build to deliver it).");
    } finally { button.disabled = false; }
  });
  $("#restart").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      await api("/api/restart", { json: {} });
      toast("The bot restarted. Half-finished forms are kept in the database: carry on where you were.");
    } finally { button.disabled = false; }
  });
}

async function main() {
  wire();
  const pane = new URLSearchParams(location.search).get("pane") || localStorage.getItem("sandbox.pane");
  showPane(["phone", "slack", "outbox"].includes(pane) ? pane : "phone");
  // Side by side the outbox starts folded (its totals still show); as a tab it is the pane.
  $("#outbox-panel").open = NARROW.matches;
  NARROW.addEventListener("change", () => { if (NARROW.matches) $("#outbox-panel").open = true; });
  await loadState();
  fillPickers();
  await loadChannels();
  const saved = localStorage.getItem("sandbox.channel");
  const wanted = new URLSearchParams(location.search).get("channel");
  const channel = S.channels.find((c) => !c.is_im && (c.name === wanted || c.name.endsWith(`-${wanted}`)))
    || S.channels.find((c) => c.id === saved && (!c.is_im || c.user === S.actor))
    || S.channels.find((c) => !c.is_im);
  S.pane = { kind: "channel", id: channel.id };
  renderSidebar();
  connect();
}

main().catch((error) => toast(`The page could not start: ${error.message}`, true));
