// The page: renders web/chat.js's state into index.html's skeleton and turns
// clicks and keys into calls on it. Every name, topic and message reaches
// the DOM as text (textContent), never as HTML.

import { complete, parseInput } from './commands.js';
import { displayOf } from './chat.js';
import { mentions } from './unread.js';

/** Within this many pixels of the bottom, new messages keep the view at the bottom. */
const STICK_PX = 48;
/** Sent lines kept for Up/Down. */
const INPUT_HISTORY = 100;

const $ = (id) => document.getElementById(id);

/** Makes an element with a class and text. */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class Ui {
  constructor(chat, notifier) {
    this.chat = chat;
    this.notifier = notifier;
    this.shownKey = null;
    this.nodes = new Map(); // item id -> <li> of the conversation shown
    this.marker = el('li', 'unread-marker', 'new');
    this.marker.setAttribute('role', 'separator');
    this.sent = [];
    this.sentAt = -1;
    this.draft = '';
    this.completion = null;
    this.loginMode = 'login';
    this.#bind();
  }

  #bind() {
    const chat = this.chat;
    chat.on('status', (s) => this.#status(s));
    chat.on('login-needed', ({ reason }) => this.showLogin(reason));
    chat.on('me', () => this.#me());
    chat.on('convs', () => this.#sidebar());
    chat.on('active', () => this.#showActive());
    chat.on('conv', (key) => {
      if (key === chat.active) this.#messages(false);
    });
    chat.on('notify', ({ key, title, body }) => this.notifier.show(title, body, () => chat.setActive(key)));

    $('login-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.#submitLogin();
    });
    $('mode-login').addEventListener('click', () => this.#setMode('login'));
    $('mode-register').addEventListener('click', () => this.#setMode('register'));

    $('compose').addEventListener('submit', (e) => {
      e.preventDefault();
      this.#submitInput();
    });
    $('input').addEventListener('keydown', (e) => this.#key(e));
    $('load-older').addEventListener('click', () => chat.loadOlder());
    $('messages').addEventListener('scroll', () => this.#scrolled());
    $('jump').addEventListener('click', () => this.#toBottom());
    $('message-list').addEventListener('click', (e) => {
      const retry = e.target.closest('button[data-retry]');
      if (retry) chat.retry(Number(retry.dataset.retry));
    });
    $('conn-retry').addEventListener('click', () => chat.reconnect());
    $('menu-toggle').addEventListener('click', () => this.#menu(!$('chat-view').classList.contains('menu-open')));
    // At phone width, a tap on the conversation closes the sliding sidebar.
    document.querySelector('.conversation').addEventListener('pointerdown', () => this.#menu(false));
    $('logout').addEventListener('click', () => chat.logout());
    $('notify-toggle').addEventListener('click', async () => {
      await this.notifier.toggle();
      this.#notifyButton();
    });
    this.#notifyButton();

    if (!chat.protocol.has('ChangePassword')) $('password-open').hidden = true;
    $('password-open').addEventListener('click', () => {
      $('password-error').textContent = '';
      $('password-dialog').showModal();
    });
    $('password-cancel').addEventListener('click', () => this.#closePassword());
    $('password-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.#changePassword();
    });

    document.addEventListener('visibilitychange', () => chat.setVisible(document.visibilityState === 'visible'));
    chat.setVisible(document.visibilityState === 'visible');
    setInterval(() => this.#status({ status: chat.status, detail: chat.statusDetail, retryAt: chat.retryAt }), 1000);
  }

  // -- login --------------------------------------------------------------

  showLogin(reason) {
    $('chat-view').hidden = true;
    $('login-view').hidden = false;
    $('login-reason').textContent = reason ?? '';
    $('login-submit').disabled = false;
    const saved = this.chat.me?.username ?? '';
    if (saved && !$('login-username').value) $('login-username').value = saved;
    ($('login-username').value ? $('login-password') : $('login-username')).focus();
  }

  /** Shows the chat (also while a stored session is still connecting). */
  showChat() {
    $('login-view').hidden = true;
    $('chat-view').hidden = false;
    this.#sidebar();
    this.#showActive();
    $('input').focus();
  }

  #setMode(mode) {
    this.loginMode = mode;
    const register = mode === 'register';
    $('mode-login').setAttribute('aria-selected', String(!register));
    $('mode-register').setAttribute('aria-selected', String(register));
    $('display-row').hidden = !register;
    $('login-submit').textContent = register ? 'Create account' : 'Log in';
    $('login-password').autocomplete = register ? 'new-password' : 'current-password';
  }

  async #submitLogin() {
    const username = $('login-username').value.trim();
    const passwordInput = $('login-password');
    const display = $('login-display').value.trim();
    $('login-error').textContent = '';
    if (!username || !passwordInput.value) {
      $('login-error').textContent = 'Enter a username and a password.';
      return;
    }
    $('login-submit').disabled = true;
    try {
      if (this.loginMode === 'register') await this.chat.register(username, passwordInput.value, display);
      else await this.chat.login(username, passwordInput.value);
      // The password is not kept anywhere once the login is done.
      passwordInput.value = '';
      this.showChat();
    } catch (err) {
      $('login-error').textContent = loginError(err);
    } finally {
      $('login-submit').disabled = false;
    }
  }

  async #changePassword() {
    const oldInput = $('old-password');
    const newInput = $('new-password');
    try {
      await this.chat.changePassword(oldInput.value, newInput.value);
      this.#closePassword();
      this.chat.info('Password changed. Other browsers logged in with the old one must log in again.');
    } catch (err) {
      $('password-error').textContent = err.codeName === 'BAD_CREDENTIALS' ? 'The current password is wrong.' : err.message;
    }
  }

  #closePassword() {
    $('old-password').value = '';
    $('new-password').value = '';
    $('password-dialog').close();
  }

  // -- header and sidebar ---------------------------------------------------

  #status({ status, detail, retryAt }) {
    const box = $('conn');
    box.dataset.state = status;
    let text;
    switch (status) {
      case 'online': text = 'online'; break;
      case 'connecting': text = 'connecting…'; break;
      case 'reconnecting': {
        const secs = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
        text = retryAt && secs > 0 ? `reconnecting in ${secs}s (${detail})` : 'reconnecting…';
        break;
      }
      case 'stopped': text = detail ? `offline: ${detail}` : 'offline'; break;
      default: text = 'offline';
    }
    if ($('conn-text').textContent !== text) $('conn-text').textContent = text;
    $('conn-retry').hidden = status !== 'stopped' || !this.chat.savedSession();
  }

  #me() {
    const me = this.chat.me;
    $('me-name').textContent = displayOf(me);
    $('me-username').textContent = me ? `@${me.username}` : '';
    if ($('chat-view').hidden) this.showChat();
  }

  #sidebar() {
    const { rooms, whispers } = this.chat.list();
    fillList($('room-list'), rooms, this);
    fillList($('whisper-list'), whispers, this);
    const { unread, mentions } = this.chat.unread?.totals() ?? { unread: 0, mentions: 0 };
    document.title = mentions > 0 ? `(@${mentions}) Sori` : unread > 0 ? `(${unread}) Sori` : 'Sori';
  }

  /** A sidebar entry was chosen. */
  open(key) {
    this.chat.setActive(key);
    this.#menu(false);
    $('input').focus();
  }

  #menu(open) {
    $('chat-view').classList.toggle('menu-open', open);
    $('menu-toggle').setAttribute('aria-expanded', String(open));
  }

  #notifyButton() {
    const button = $('notify-toggle');
    button.hidden = !this.notifier.available();
    button.textContent = this.notifier.enabled() ? 'Turn notifications off' : 'Enable notifications';
  }

  // -- messages ---------------------------------------------------------------

  #showActive() {
    const conv = this.chat.convs.get(this.chat.active);
    $('conv-title').textContent = conv ? (conv.kind === 'room' ? `# ${conv.title}` : `@ ${conv.title}`) : '';
    $('conv-topic').textContent = conv?.kind === 'room' ? conv.topic : conv ? `whispers with ${conv.name}` : '';
    this.#messages(true);
  }

  /** Renders the conversation in view; `fresh` when it was just switched to. */
  #messages(fresh) {
    const conv = this.chat.convs.get(this.chat.active);
    const box = $('messages');
    const list = $('message-list');
    if (fresh || this.shownKey !== conv?.key) {
      list.replaceChildren();
      this.nodes.clear();
      this.shownKey = conv?.key ?? null;
    }
    if (!conv) return;
    if (conv.kind === 'room') $('conv-topic').textContent = conv.topic;
    const atBottom = fresh || box.scrollHeight - box.scrollTop - box.clientHeight < STICK_PX;
    const anchor = atBottom ? null : firstVisible(list, box);
    const anchorTop = anchor ? anchor.offsetTop - box.scrollTop : 0;
    const before = list.lastElementChild;

    const keep = new Set();
    let prev = null;
    let cursor = list.firstElementChild;
    let markerPlaced = false;
    const markerSeq = conv.marker;
    for (const item of conv.items) {
      if (!markerPlaced && markerSeq != null && item.kind === 'message' && !item.own && item.seq > markerSeq && !item.pending) {
        markerPlaced = true;
        cursor = place(list, this.marker, cursor);
      }
      let node = this.nodes.get(item.id);
      const sig = signature(item, prev);
      if (!node || node.dataset.sig !== sig) {
        const fresh = renderItem(item, prev, this.chat.me);
        fresh.dataset.sig = sig;
        if (node) node.replaceWith(fresh);
        if (cursor === node) cursor = fresh;
        node = fresh;
        this.nodes.set(item.id, node);
      }
      keep.add(node);
      cursor = place(list, node, cursor);
      prev = item;
    }
    keep.add(this.marker);
    if (!markerPlaced) this.marker.remove();
    for (const [id, node] of this.nodes) {
      if (!keep.has(node)) {
        node.remove();
        this.nodes.delete(id);
      }
    }
    $('load-older').hidden = !(conv.kind === 'room' && conv.hasMore);
    $('load-older').disabled = !!conv.loadingOlder;
    const lastOwn = conv.items.length > 0 && conv.items[conv.items.length - 1].own && conv.items[conv.items.length - 1].pending;
    if (atBottom || lastOwn) {
      box.scrollTop = box.scrollHeight;
      $('jump').hidden = true;
    } else {
      if (anchor && anchor.isConnected) box.scrollTop = anchor.offsetTop - anchorTop;
      if (list.lastElementChild !== before) $('jump').hidden = false;
    }
  }

  #scrolled() {
    const box = $('messages');
    if (box.scrollHeight - box.scrollTop - box.clientHeight < STICK_PX) $('jump').hidden = true;
  }

  #toBottom() {
    const box = $('messages');
    box.scrollTop = box.scrollHeight;
    $('jump').hidden = true;
  }

  // -- input --------------------------------------------------------------------

  #submitInput() {
    const input = $('input');
    const line = input.value;
    if (line.trim() === '') return;
    this.completion = null;
    this.sent.push(line);
    if (this.sent.length > INPUT_HISTORY) this.sent.shift();
    this.sentAt = -1;
    input.value = '';
    const parsed = parseInput(line);
    if (parsed.kind === 'unknown') {
      this.chat.info(`Unknown command /${parsed.name}: /help lists them.`);
    } else if (parsed.kind === 'command') {
      this.chat.command(parsed.name, parsed.rest);
    } else if (new TextEncoder().encode(parsed.text).length > this.chat.maxTextLen) {
      input.value = line;
      this.chat.info(`That is longer than the server takes (${this.chat.maxTextLen} bytes).`);
    } else {
      this.chat.send(parsed.text);
    }
  }

  #key(e) {
    const input = $('input');
    if (e.key === 'Tab' && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey) {
      if (input.value === '' && !this.completion) return; // let Tab leave the field
      e.preventDefault();
      this.#complete(input);
      return;
    }
    if (e.key !== 'Shift') this.completion = null;
    if (e.key === 'ArrowUp' && this.sent.length > 0 && (input.value === '' || this.sentAt >= 0)) {
      e.preventDefault();
      if (this.sentAt < 0) {
        this.draft = input.value;
        this.sentAt = this.sent.length;
      }
      this.sentAt = Math.max(0, this.sentAt - 1);
      input.value = this.sent[this.sentAt];
    } else if (e.key === 'ArrowDown' && this.sentAt >= 0) {
      e.preventDefault();
      this.sentAt += 1;
      if (this.sentAt >= this.sent.length) {
        this.sentAt = -1;
        input.value = this.draft;
      } else {
        input.value = this.sent[this.sentAt];
      }
    } else if (e.key === 'Escape') {
      this.sentAt = -1;
    } else if (e.key.length === 1 || e.key === 'Backspace' || e.key === 'Delete') {
      this.sentAt = -1;
    }
  }

  /** Tab: completes the word before the caret; Tab again goes to the next candidate. */
  #complete(input) {
    const chat = this.chat;
    if (!this.completion) {
      const caret = input.selectionStart ?? input.value.length;
      const found = complete(input.value, caret, {
        users: () => chat.completionUsers(),
        usernames: () => chat.completionUsernames(),
        rooms: () => chat.completionRooms(),
      });
      if (found.candidates.length === 0) return;
      this.completion = { ...found, line: input.value, index: -1 };
    }
    const c = this.completion;
    c.index = (c.index + 1) % c.candidates.length;
    const pick = c.candidates[c.index];
    input.value = c.line.slice(0, c.start) + pick + c.line.slice(c.end);
    const at = c.start + pick.length;
    input.setSelectionRange(at, at);
  }
}

/** Fills a sidebar list with one button per conversation. */
function fillList(list, convs, ui) {
  const chat = ui.chat;
  list.replaceChildren(...convs.map((conv) => {
    const li = el('li');
    const button = el('button');
    button.type = 'button';
    button.dataset.key = conv.key;
    if (conv.key === chat.active) button.setAttribute('aria-current', 'true');
    const { unread, mentions } = chat.unread?.countsOf(conv.key) ?? { unread: 0, mentions: 0 };
    li.className = [unread > 0 ? 'unread-yes' : '', conv.left ? 'left' : ''].join(' ').trim();
    button.append(el('span', 'name', conv.kind === 'room' ? (conv.name === '' ? 'lobby' : `# ${conv.title}`) : conv.title));
    if (mentions > 0) {
      const badge = el('span', 'badge mention', `@${mentions}`);
      badge.title = `${mentions} mentioning you`;
      button.append(badge);
    }
    if (unread > 0) {
      const badge = el('span', 'badge unread', String(unread));
      badge.title = `${unread} unread`;
      button.append(badge);
    }
    button.addEventListener('click', () => ui.open(conv.key));
    li.append(button);
    return li;
  }));
}

/** What decides an item's look: re-rendered when it changes. */
function signature(item, prev) {
  return [item.pending ? 'p' : '', item.failed ?? '', item.note ?? '', item.seq, sameAuthor(item, prev) ? 's' : ''].join('|');
}

function sameAuthor(item, prev) {
  return item.kind === 'message' && prev?.kind === 'message' && !prev.failed && !item.failed
    && prev.from?.username === item.from?.username && Math.abs(item.ts - prev.ts) < 5 * 60 * 1000;
}

function renderItem(item, prev, me) {
  if (item.kind === 'system') return el('li', 'system', item.text);
  const classes = ['msg'];
  if (item.own) classes.push('own');
  if (item.pending) classes.push('pending');
  if (item.failed) classes.push('failed');
  if (sameAuthor(item, prev)) classes.push('same-author');
  // web/unread.js decides what is a mention; the page highlights the same.
  if (!item.own && me && mentions(item.text, me)) classes.push('mention');
  const li = el('li', classes.join(' '));
  if (item.seq) li.dataset.seq = String(item.seq);
  const meta = el('div', 'meta');
  const from = el('span', 'from', displayOf(item.from));
  if (item.from?.username) from.title = `@${item.from.username}`;
  const time = el('time', 'time', formatTime(item.ts));
  time.dateTime = new Date(item.ts).toISOString();
  meta.append(from, time);
  li.append(meta, el('div', 'text', item.text));
  if (item.failed) {
    const note = el('div', 'note', item.failed);
    const retry = el('button', 'link', 'send again');
    retry.type = 'button';
    retry.dataset.retry = String(item.id);
    note.append(' ', retry);
    li.append(note);
  } else if (item.note) {
    li.append(el('div', 'note', item.note));
  }
  return li;
}

/** Puts `node` at `cursor` (or leaves it if it is there) and returns the next position. */
function place(list, node, cursor) {
  if (cursor === node) return node.nextElementSibling;
  list.insertBefore(node, cursor);
  return node.nextElementSibling;
}

function firstVisible(list, box) {
  for (const node of list.children) {
    if (node.offsetTop + node.offsetHeight > box.scrollTop) return node;
  }
  return null;
}

function formatTime(ms) {
  const d = new Date(ms);
  const now = new Date();
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === now.toDateString() ? time : `${d.toLocaleDateString()} ${time}`;
}

function loginError(err) {
  switch (err.codeName) {
    case 'BAD_CREDENTIALS': return 'Wrong username or password.';
    case 'LOGIN_THROTTLED': {
      const secs = Math.max(1, Math.ceil((err.untilMs - Date.now()) / 1000));
      return `Too many failed attempts: try again in ${secs} s.`;
    }
    case 'USERNAME_TAKEN': return 'That username is taken.';
    case 'DISPLAY_NAME_TAKEN': return 'That display name is taken.';
    case 'INVALID_USERNAME': return 'Usernames are 3–20 letters, digits or _, starting with a letter.';
    case 'INVALID_PASSWORD': return 'Passwords are at least 8 characters.';
    case 'INVALID_DISPLAY_NAME': return 'Display names are 1–24 letters, digits, spaces, _ - or .';
    case 'BANNED_FROM_SERVER': return `Banned: ${err.serverMessage || 'this account may not log in'}.`;
    default: return err.message || 'Could not log in.';
  }
}

