// The chat as the page knows it, with no DOM: logging in (by password once,
// then by session token), reconnecting with backoff and resuming every room
// with no gap and no duplicate (docs/protocol.md §6.8), the conversations
// (rooms and whispers) and their messages, the commands. web/ui.js shows
// it and listens to its events.

import { Connection, ConnectionLost, ServerError } from './connection.js';
import { Unread, mentions } from './unread.js';
import { firstWord, helpLines } from './commands.js';

export const CLIENT_NAME = 'sori-web/0.1';
/** Waits between reconnect attempts; the last one repeats. A random part of up to a third is added. */
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
/** Kicks after which the page does not reconnect by itself. */
const NO_RETRY = new Set(['LOGGED_IN_ELSEWHERE', 'LOGGED_OUT', 'BANNED_FROM_SERVER', 'KICKED_BY_ADMIN', 'IP_REFUSED']);
/** Whisper messages kept per conversation across reloads (sessionStorage). */
const WHISPERS_KEPT = 200;
const SESSION_KEY = 'sori.session';

/** The conversation key of a room (names compare case-insensitively; the lobby is ""). */
export function roomKey(name) {
  return `r:${name.toLowerCase()}`;
}

/** The conversation key of whispers with a user. */
export function whisperKey(username) {
  return `w:${username.toLowerCase()}`;
}

export class Chat {
  /**
   * `protocol`: web/frame.js Protocol; `url`: the WebSocket URL; `local`
   * and `session`: localStorage and sessionStorage (or stand-ins).
   */
  constructor({ protocol, url, local, session, WebSocketImpl }) {
    this.protocol = protocol;
    this.url = url;
    this.local = local;
    this.session = session;
    this.WebSocketImpl = WebSocketImpl;
    this.listeners = new Map();
    this.status = 'idle';
    this.statusDetail = '';
    this.conn = null;
    this.me = null;
    this.wanted = null; // credentials for reconnecting: { username, token }
    this.retryTimer = null;
    this.retryAt = 0;
    this.attempt = 0;
    this.convs = new Map();
    this.active = roomKey('');
    this.visible = true;
    this.users = new Map();
    this.names = new Set();
    this.usernames = new Set();
    this.unread = null;
    this.maxTextLen = 2000;
    this.nextLocal = 1;
    this.tokens = protocol.has('Login', 'token') && protocol.has('LoginOk', 'session_token');
  }

  // -- events -------------------------------------------------------------

  /** Calls `fn(detail)` on each event `type`: status, login-needed, convs, conv, active, me, notify. */
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, []);
    this.listeners.get(type).push(fn);
  }

  emit(type, detail) {
    for (const fn of this.listeners.get(type) ?? []) fn(detail);
  }

  // -- logging in ---------------------------------------------------------

  /** Resumes the stored session, or asks for a login. */
  start() {
    const saved = this.savedSession();
    if (saved) {
      this.wanted = { username: saved.username, token: saved.token };
      this.#reconnectNow();
    } else {
      this.emit('login-needed', { reason: '' });
    }
  }

  /** The stored session `{ username, token, expires_ms }`, if any and not expired. */
  savedSession() {
    try {
      const saved = JSON.parse(this.local?.getItem(SESSION_KEY) ?? 'null');
      if (!saved || typeof saved.username !== 'string' || typeof saved.token !== 'string' || !saved.token) return null;
      if (saved.expires_ms && saved.expires_ms <= Date.now()) {
        this.#forgetSession();
        return null;
      }
      return saved;
    } catch {
      return null;
    }
  }

  /** Logs in with a password (from the form). Rejects with the reason. */
  async login(username, password) {
    this.#stopRetrying();
    await this.#session({ username, password });
  }

  /** Creates an account, then logs in. */
  async register(username, password, displayName) {
    this.#stopRetrying();
    const conn = await this.#open();
    await conn.request('Register', { username, password, display_name: displayName });
    await this.#session({ username, password }, conn);
  }

  /** Changes the password; the stored token is replaced by the new one. */
  async changePassword(oldPassword, newPassword) {
    const answer = await this.#request('ChangePassword', { old_password: oldPassword, new_password: newPassword });
    this.#saveSession(answer.body.session_token, answer.body.token_expires_ms);
  }

  /** Logs out: the server revokes the token, and this browser forgets it. */
  async logout() {
    this.wanted = null;
    this.#stopRetrying();
    this.#forgetSession();
    this.#forgetWhispers();
    try {
      await this.#request('Logout', {});
    } catch {
      // Closed already: the token is forgotten here either way.
    }
    this.conn?.close();
    this.#reset();
    this.emit('login-needed', { reason: 'You logged out.' });
  }

  /** Reconnects now (the "reconnect" button, or after a kick that does not retry by itself). */
  reconnect() {
    if (!this.wanted) {
      const saved = this.savedSession();
      if (!saved) {
        this.emit('login-needed', { reason: '' });
        return;
      }
      this.wanted = { username: saved.username, token: saved.token };
    }
    this.attempt = 0;
    this.#reconnectNow();
  }

  async #open() {
    this.conn?.close();
    const conn = new Connection(this.protocol, this.url, {
      onPush: (frame) => this.#onPush(conn, frame),
      onClose: (info) => this.#onClose(conn, info),
      WebSocketImpl: this.WebSocketImpl,
    });
    this.conn = conn;
    conn.loggedIn = false;
    await conn.open();
    const welcome = await conn.request('Hello', { protocol_version: 1, client_name: CLIENT_NAME });
    this.maxTextLen = welcome.body.max_text_len || this.maxTextLen;
    return conn;
  }

  /** Opens a connection (unless given one), logs in, and resumes every room. */
  async #session(creds, given) {
    this.#setStatus(this.me ? 'reconnecting' : 'connecting', 'connecting…');
    const conn = given ?? (await this.#open());
    const login = creds.token ? { username: creds.username, token: creds.token } : { username: creds.username, password: creds.password };
    const answer = await conn.request('Login', login);
    const ok = answer.body;
    if (this.me && this.me.username.toLowerCase() !== ok.user.username.toLowerCase()) this.#reset();
    this.me = ok.user;
    this.#learn(ok.user);
    if (!this.unread) this.unread = new Unread(this.local, ok.user.username);
    if (creds.password !== undefined) {
      if (this.tokens && ok.session_token) this.#saveSession(ok.session_token, ok.token_expires_ms);
      else this.#forgetSession();
    }
    this.wanted = this.tokens && (ok.session_token || creds.token) ? { username: ok.user.username, token: ok.session_token || creds.token } : null;
    conn.loggedIn = true;
    this.#restoreWhispers();
    // From LoginOk on, the session receives its rooms: hold their pushes
    // back until each room's RoomJoined (before any await).
    const joins = this.#resumeRooms(conn, ok.rooms).map((join) => join.catch((err) => {
      // A room that went away meanwhile is reported in it; a lost
      // connection fails the whole session (and is retried).
      if (!(err instanceof ServerError)) throw err;
    }));
    this.emit('me', this.me);
    this.emit('convs');
    this.users.clear();
    const [list] = await Promise.all([conn.request('ListUsers', {}), ...joins]);
    for (const user of list.body.users) {
      this.users.set(user.username.toLowerCase(), user);
      this.#learn(user);
    }
    this.attempt = 0;
    this.#setStatus('online', '');
    this.emit('convs');
  }

  #resumeRooms(conn, rooms) {
    const listed = new Set(rooms.map((r) => roomKey(r.name)));
    for (const conv of this.convs.values()) {
      if (conv.kind === 'room' && !listed.has(conv.key) && !conv.left) {
        conv.left = true;
        this.#system(conv, 'You are no longer a member of this room.');
      }
    }
    return rooms.map((info) => {
      const conv = this.#ensureRoom(info.name);
      conv.left = false;
      return this.#join(conv, conn, info.room_id);
    });
  }

  /** JoinRoom for `conv`: a resume when it has messages of the same room id, else the newest history. */
  async #join(conv, conn, roomId) {
    const resume = conv.lastSeq > 0 && conv.roomId !== 0 && (roomId === undefined || roomId === conv.roomId);
    if (!resume && conv.items.some((i) => i.kind === 'message')) {
      this.#clear(conv);
      if (roomId !== undefined && conv.roomId !== 0) this.#system(conv, 'This room was deleted and made again; showing the new one.');
    }
    const since = resume ? conv.lastSeq : 0;
    conv.joining = true;
    try {
      const answer = await conn.request('JoinRoom', resume
        ? { name: conv.name, since_seq: since, room_id: conv.roomId }
        : { name: conv.name });
      this.#joined(conv, answer.body, since);
    } catch (err) {
      conv.joining = false;
      conv.held = [];
      if (err instanceof ServerError) this.#system(conv, `Could not join: ${err.message}`);
      throw err;
    }
  }

  /** Applies a RoomJoined: history first, then the pushes held back (docs/protocol.md §6.7, §6.8). */
  #joined(conv, rj, since) {
    const first = conv.roomId === 0 || !this.unread.knows(conv.key);
    this.#setInfo(conv, rj.room);
    conv.role = rj.role;
    if (rj.reload_required) {
      this.#clear(conv);
      this.#system(conv, 'Too much was missed while away: showing the newest messages.');
    }
    if (first) this.unread.setLastRead(conv.key, Math.min(rj.last_seq, this.unread.lastRead(conv.key) || rj.last_seq));
    const readBefore = this.unread.lastRead(conv.key);
    if (since === 0 || rj.reload_required) {
      conv.hasMore = rj.history.length > 0 ? rj.history[0].seq > 1 : rj.last_seq > 0;
    }
    for (const msg of rj.history) this.#addMessage(conv, msg, { live: false });
    this.#dropResent(conv, rj.history);
    // In view: the unread-marker line goes after what was read before.
    if (this.active === conv.key && conv.marker == null) this.#placeMarker(conv, readBefore);
    conv.lastSeq = Math.max(rj.last_seq, since === 0 || rj.reload_required ? 0 : conv.lastSeq);
    this.#advance(conv);
    conv.joining = false;
    const held = conv.held;
    conv.held = [];
    for (const msg of held) this.#addMessage(conv, msg, { live: true });
    this.emit('conv', conv.key);
  }

  /** Own messages that failed with the connection but reached the server after all. */
  #dropResent(conv, history) {
    const mine = history.filter((m) => m.from?.username.toLowerCase() === this.me.username.toLowerCase());
    if (mine.length === 0) return;
    conv.items = conv.items.filter((item) => !(item.own && item.failed && mine.some((m) => m.text === item.text)));
  }

  #onClose(conn, { kicked }) {
    if (conn !== this.conn) return;
    this.conn = null;
    for (const conv of this.convs.values()) {
      let changed = false;
      for (const item of conv.items) {
        if (item.pending) {
          item.pending = false;
          item.failed = 'not sent: the connection was lost';
          changed = true;
        }
      }
      conv.joining = false;
      conv.held = [];
      if (changed) this.emit('conv', conv.key);
    }
    const reason = kicked ? conn.codeName(kicked.code) : null;
    if (reason === 'LOGGED_OUT') return; // logout() has told the page
    const why = kicked ? describeKick(reason, kicked) : 'connection lost';
    if (!this.wanted) {
      // Nothing to log in again with (a password login on a server without
      // tokens, or a login form still open): the form takes over.
      if (conn.loggedIn) {
        this.#setStatus('stopped', why);
        this.emit('login-needed', { reason: `Disconnected (${why}): log in again.` });
      }
      return;
    }
    if (reason && NO_RETRY.has(reason)) {
      this.#setStatus('stopped', why);
      return;
    }
    this.#scheduleRetry(why);
  }

  #scheduleRetry(why) {
    if (this.retryTimer || !this.wanted) return;
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    const wait = Math.round(base * (1 + Math.random() / 3));
    this.attempt += 1;
    this.retryAt = Date.now() + wait;
    this.#setStatus('reconnecting', why);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.#reconnectNow();
    }, wait);
  }

  #stopRetrying() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  async #reconnectNow() {
    this.#stopRetrying();
    const creds = this.wanted;
    if (!creds) return;
    try {
      await this.#session(creds);
    } catch (err) {
      if (err instanceof ServerError && (err.codeName === 'TOKEN_INVALID' || err.codeName === 'BAD_CREDENTIALS')) {
        this.wanted = null;
        this.#forgetSession();
        this.conn?.close();
        this.#setStatus('stopped', 'session expired');
        this.emit('login-needed', { reason: 'Your session has expired: log in again.' });
        return;
      }
      if (err instanceof ServerError && err.codeName === 'BANNED_FROM_SERVER') {
        this.wanted = null;
        this.conn?.close();
        this.#setStatus('stopped', err.message);
        this.emit('login-needed', { reason: err.message });
        return;
      }
      // A broken connection (or a refusal worth retrying): try again later.
      const conn = this.conn;
      if (conn) {
        conn.close();
      } else {
        this.#scheduleRetry(err.message);
      }
    }
  }

  #saveSession(token, expiresMs) {
    if (!token) return;
    try {
      this.local?.setItem(SESSION_KEY, JSON.stringify({ username: this.me.username, token, expires_ms: expiresMs || 0 }));
    } catch {
      // Storage disabled: the session lasts as long as the page.
    }
    this.wanted = { username: this.me.username, token };
  }

  #forgetSession() {
    try {
      this.local?.removeItem(SESSION_KEY);
    } catch {
      // Nothing stored.
    }
  }

  #reset() {
    this.me = null;
    this.convs.clear();
    this.users.clear();
    this.unread = null;
    this.active = roomKey('');
  }

  #setStatus(status, detail) {
    this.status = status;
    this.statusDetail = detail;
    this.emit('status', { status, detail, retryAt: status === 'reconnecting' ? this.retryAt : 0 });
  }

  #request(name, body) {
    try {
      return this.#loggedIn().request(name, body);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The logged-in connection; throws while there is none. */
  #loggedIn() {
    if (!this.conn || !this.conn.loggedIn) throw new ConnectionLost('not connected: wait for the reconnect');
    return this.conn;
  }

  // -- conversations ------------------------------------------------------

  /** The conversations in sidebar order: the lobby, rooms by name, then whispers by name. */
  list() {
    const rooms = [...this.convs.values()].filter((c) => c.kind === 'room');
    const whispers = [...this.convs.values()].filter((c) => c.kind === 'whisper');
    const byName = (a, b) => a.title.localeCompare(b.title);
    rooms.sort((a, b) => (a.name === '' ? -1 : b.name === '' ? 1 : byName(a, b)));
    whispers.sort(byName);
    return { rooms, whispers };
  }

  /** Shows `key` (the UI tells the model what is in view). */
  setActive(key) {
    if (!this.convs.has(key)) return;
    this.active = key;
    const conv = this.convs.get(key);
    conv.marker = null;
    if (this.unread) this.#placeMarker(conv, this.unread.lastRead(key));
    this.#markViewed(conv);
    this.emit('active', key);
    this.emit('convs');
  }

  /** Whether the page is visible; unread counts keep growing while it is not. */
  setVisible(visible) {
    this.visible = visible;
    if (visible && this.convs.has(this.active)) {
      this.#markViewed(this.convs.get(this.active));
      this.emit('convs');
    }
  }

  /** Closes a whisper conversation or a room the user is no longer in. */
  close(key) {
    const conv = this.convs.get(key);
    if (!conv || (conv.kind === 'room' && !conv.left)) return;
    this.convs.delete(key);
    this.unread?.forget(key);
    if (conv.kind === 'whisper') this.#saveWhispers();
    if (this.active === key) this.setActive(roomKey(''));
    this.emit('convs');
  }

  /** The marker goes after `read` if a message of someone else follows it; else there is none. */
  #placeMarker(conv, read) {
    const unread = conv.items.some((i) => i.kind === 'message' && !i.own && i.seq > read);
    conv.marker = unread ? read : null;
  }

  #markViewed(conv) {
    if (!this.unread) return;
    this.unread.viewed(conv.key, conv.kind === 'room' ? conv.lastSeq : conv.nextSeq - 1);
  }

  #ensureRoom(name) {
    const key = roomKey(name);
    let conv = this.convs.get(key);
    if (!conv) {
      conv = newConv(key, 'room', name);
      conv.title = name === '' ? 'lobby' : name;
      this.convs.set(key, conv);
    }
    return conv;
  }

  #ensureWhisper(user) {
    const key = whisperKey(user.username);
    let conv = this.convs.get(key);
    if (!conv) {
      conv = newConv(key, 'whisper', user.username);
      this.convs.set(key, conv);
      this.emit('convs');
    }
    if (user.display_name) conv.peer = user;
    conv.peer = conv.peer ?? user;
    conv.title = conv.peer.display_name || conv.peer.username;
    return conv;
  }

  #setInfo(conv, info) {
    conv.name = info.name;
    conv.title = info.name === '' ? 'lobby' : info.name;
    conv.topic = info.topic;
    conv.inviteOnly = info.invite_only;
    conv.memberCount = info.member_count;
    conv.roomId = info.room_id;
  }

  #clear(conv) {
    conv.items = conv.items.filter((i) => i.own && i.failed);
    conv.seen = new Set();
    conv.lastSeq = 0;
    conv.hasMore = false;
  }

  #isViewing(conv) {
    return this.visible && this.active === conv.key;
  }

  /** Adds a room message (history, resume or push), in seq order, once. */
  #addMessage(conv, msg, { live }) {
    if (conv.joining && live) {
      conv.held.push(msg);
      return;
    }
    if (conv.seen.has(msg.seq) || (live && msg.seq <= conv.lastSeq)) return;
    conv.seen.add(msg.seq);
    if (msg.from) this.#learn(msg.from);
    const own = msg.from && this.me && msg.from.username.toLowerCase() === this.me.username.toLowerCase();
    const item = { kind: 'message', id: this.nextLocal++, seq: msg.seq, ts: msg.timestamp_ms, from: msg.from, text: msg.text, own };
    insertBySeq(conv.items, item);
    if (live) this.#advance(conv);
    if (!own) {
      const mention = mentions(msg.text, this.me);
      const counted = this.unread.arrived(conv.key, msg.seq, { seen: this.#isViewing(conv), mention });
      if (live && mention && counted) this.emit('notify', { key: conv.key, title: `${displayOf(msg.from)} in ${conv.title}`, body: msg.text });
      if (counted || (mention && live)) this.emit('convs');
    } else if (this.#isViewing(conv)) {
      this.unread.viewed(conv.key, conv.lastSeq);
    }
    if (live) this.emit('conv', conv.key);
  }

  /** lastSeq is the highest seq below which nothing is missing. */
  #advance(conv) {
    while (conv.seen.has(conv.lastSeq + 1)) conv.lastSeq += 1;
    if (this.#isViewing(conv)) this.unread.viewed(conv.key, conv.lastSeq);
  }

  #system(conv, text) {
    conv.items.push({ kind: 'system', id: this.nextLocal++, ts: Date.now(), text });
    this.emit('conv', conv.key);
  }

  /** A line of information in the conversation in view. */
  info(text) {
    const conv = this.convs.get(this.active);
    if (conv) this.#system(conv, text);
  }

  #learn(user) {
    if (user.username) {
      this.names.add(user.username);
      this.usernames.add(user.username);
    }
    if (user.display_name) this.names.add(user.display_name);
  }

  /** Names for tab completion: usernames and display names seen. */
  completionUsers() {
    return [...this.names];
  }

  completionUsernames() {
    return [...this.usernames];
  }

  completionRooms() {
    return [...this.convs.values()].filter((c) => c.kind === 'room' && c.name !== '').map((c) => c.name).concat(this.knownRooms ?? []);
  }

  // -- sending ------------------------------------------------------------

  /** Sends `text` to the conversation in view. */
  async send(text) {
    const conv = this.convs.get(this.active);
    if (!conv) return;
    if (conv.kind === 'whisper') {
      await this.#whisper(conv, text);
      return;
    }
    if (conv.left) {
      this.#system(conv, 'You are not in this room any more: /join it again.');
      return;
    }
    const item = { kind: 'message', id: this.nextLocal++, seq: 0, ts: Date.now(), from: this.me, text, own: true, pending: true };
    conv.items.push(item);
    this.emit('conv', conv.key);
    try {
      const ack = await this.#request('Chat', { room: conv.name, text });
      item.pending = false;
      const at = conv.items.indexOf(item);
      if (at >= 0) conv.items.splice(at, 1);
      if (!conv.seen.has(ack.body.seq)) {
        item.seq = ack.body.seq;
        item.ts = ack.body.timestamp_ms;
        conv.seen.add(item.seq);
        insertBySeq(conv.items, item);
        this.#advance(conv);
      }
    } catch (err) {
      item.pending = false;
      item.failed = `not sent: ${err.message}`;
    }
    this.emit('conv', conv.key);
  }

  /** Sends the failed message `id` of the conversation in view again. */
  async retry(id) {
    const conv = this.convs.get(this.active);
    const item = conv?.items.find((i) => i.id === id && i.failed);
    if (!item) return;
    conv.items.splice(conv.items.indexOf(item), 1);
    await this.send(item.text);
  }

  async #whisper(conv, text) {
    const item = { kind: 'message', id: this.nextLocal++, seq: conv.nextSeq++, ts: Date.now(), from: this.me, text, own: true, pending: true };
    conv.items.push(item);
    this.emit('conv', conv.key);
    try {
      const ack = await this.#request('Whisper', { to_username: conv.name, text });
      item.pending = false;
      item.ts = ack.body.timestamp_ms;
      if (ack.body.stored) item.note = 'stored: delivered when they log in';
      this.unread.viewed(conv.key, item.seq);
    } catch (err) {
      item.pending = false;
      item.failed = `not sent: ${err.message}`;
    }
    this.#saveWhispers();
    this.emit('conv', conv.key);
  }

  /** Loads a page of older messages of the room in view (History before the oldest shown). */
  async loadOlder() {
    const conv = this.convs.get(this.active);
    if (!conv || conv.kind !== 'room' || !conv.hasMore || conv.loadingOlder) return;
    const oldest = conv.items.find((i) => i.kind === 'message' && i.seq > 0);
    conv.loadingOlder = true;
    try {
      const page = await this.#request('History', { room: conv.name, before_seq: oldest ? oldest.seq : 0, limit: 50 });
      for (const msg of page.body.messages) this.#addMessage(conv, msg, { live: false });
      conv.hasMore = page.body.has_more;
    } catch (err) {
      this.#system(conv, `Could not load older messages: ${err.message}`);
    } finally {
      conv.loadingOlder = false;
    }
    this.emit('conv', conv.key);
  }

  // -- pushes -------------------------------------------------------------

  #onPush(conn, { name, body }) {
    if (conn !== this.conn) return;
    switch (name) {
      case 'ChatMessage': {
        let conv = this.convs.get(roomKey(body.room));
        if (!conv) {
          // A room this page did not know yet (joined elsewhere): load it.
          conv = this.#ensureRoom(body.room);
          conv.joining = true;
          conv.held.push(body);
          this.#join(conv, conn).catch(() => {});
          this.emit('convs');
          return;
        }
        this.#addMessage(conv, body, { live: true });
        break;
      }
      case 'WhisperMessage': {
        this.#learn(body.from);
        const conv = this.#ensureWhisper(body.from);
        const item = { kind: 'message', id: this.nextLocal++, seq: conv.nextSeq++, ts: body.timestamp_ms, from: body.from, text: body.text, own: false };
        if (body.offline) item.note = 'sent while you were away';
        conv.items.push(item);
        const counted = this.unread.arrived(conv.key, item.seq, { seen: this.#isViewing(conv), mention: true });
        if (counted) this.emit('notify', { key: conv.key, title: `${displayOf(body.from)} whispers`, body: body.text });
        this.#saveWhispers();
        this.emit('conv', conv.key);
        this.emit('convs');
        break;
      }
      case 'UserJoined':
        this.users.set(body.user.username.toLowerCase(), body.user);
        this.#learn(body.user);
        break;
      case 'UserLeft':
        this.users.delete(body.user.username.toLowerCase());
        break;
      case 'RoomUpdated': {
        const conv = this.convs.get(roomKey(body.room.name));
        if (!conv) break;
        const old = conv.topic;
        this.#setInfo(conv, body.room);
        if (old !== body.room.topic) this.#system(conv, `${displayOf(body.by)} set the topic: ${body.room.topic || '(none)'}`);
        else this.#system(conv, `${displayOf(body.by)} changed the room's settings.`);
        this.emit('convs');
        break;
      }
      case 'Invited':
        this.info(`${displayOf(body.by)} invited you to ${body.room}: /join ${body.room}`);
        break;
      case 'MemberJoined': {
        const conv = this.convs.get(roomKey(body.room));
        if (conv) this.#system(conv, `${displayOf(body.user)} joined.`);
        break;
      }
      case 'MemberLeft': {
        const conv = this.convs.get(roomKey(body.room));
        if (!conv) break;
        const me = body.user.username.toLowerCase() === this.me.username.toLowerCase();
        const who = me ? 'You' : displayOf(body.user);
        const reason = body.message ? ` (${body.message})` : '';
        const how = { 2: 'kicked', 3: 'banned' }[body.reason];
        this.#system(conv, how ? `${who} ${me ? 'were' : 'was'} ${how} by ${displayOf(body.by)}${reason}.` : `${who} left.`);
        if (me) {
          conv.left = true;
          this.emit('convs');
        }
        break;
      }
      case 'RoleChanged': {
        const conv = this.convs.get(roomKey(body.room));
        const role = { 1: 'a member', 2: 'an operator', 3: 'the owner' }[body.role] ?? 'something else';
        if (conv) this.#system(conv, `${displayOf(body.by)} made ${displayOf(body.user)} ${role}.`);
        if (conv && body.user.username.toLowerCase() === this.me.username.toLowerCase()) conv.role = body.role;
        break;
      }
      case 'RoomDeleted': {
        const conv = this.convs.get(roomKey(body.room));
        if (!conv) break;
        conv.left = true;
        this.#system(conv, `${displayOf(body.by)} deleted this room.`);
        this.emit('convs');
        break;
      }
      case 'Error':
        this.info(`The server says: ${conn.codeName(body.code)} ${body.message}`);
        break;
      default:
        break;
    }
  }

  // -- whispers kept across reloads ---------------------------------------

  #whispersKey() {
    return `sori.whispers.${this.me.username.toLowerCase()}`;
  }

  #saveWhispers() {
    if (!this.session || !this.me) return;
    const out = [];
    for (const conv of this.convs.values()) {
      if (conv.kind !== 'whisper') continue;
      const items = conv.items.filter((i) => i.kind === 'message' && !i.pending && !i.failed).slice(-WHISPERS_KEPT)
        .map(({ seq, ts, from, text, own, note }) => ({ seq, ts, from, text, own, note }));
      out.push({ peer: conv.peer, nextSeq: conv.nextSeq, items });
    }
    try {
      this.session.setItem(this.#whispersKey(), JSON.stringify(out));
    } catch {
      // Storage full or disabled: whispers then last as long as the page.
    }
  }

  #restoreWhispers() {
    if (!this.session || [...this.convs.values()].some((c) => c.kind === 'whisper')) return;
    let saved = [];
    try {
      saved = JSON.parse(this.session.getItem(this.#whispersKey()) ?? '[]');
    } catch {
      return;
    }
    if (!Array.isArray(saved)) return;
    for (const entry of saved) {
      if (!entry?.peer?.username) continue;
      const conv = this.#ensureWhisper(entry.peer);
      conv.nextSeq = Number(entry.nextSeq) || 1;
      conv.items = (entry.items ?? []).map((i) => ({ kind: 'message', id: this.nextLocal++, seq: i.seq, ts: i.ts, from: i.from, text: String(i.text), own: !!i.own, note: i.note }));
      // Shown before the reload: read.
      this.unread.setLastRead(conv.key, conv.nextSeq - 1);
    }
  }

  #forgetWhispers() {
    if (!this.session || !this.me) return;
    try {
      this.session.removeItem(this.#whispersKey());
    } catch {
      // Nothing stored.
    }
  }

  // -- commands -----------------------------------------------------------

  /** Carries out a parsed command; its results are lines in the conversation in view. */
  async command(name, rest) {
    const conv = this.convs.get(this.active);
    const room = conv && conv.kind === 'room' ? conv.name : null;
    const needRoom = () => {
      if (room === null || room === '') throw new Error('this command works in a room (not the lobby or a whisper)');
      return room;
    };
    const [word, tail] = firstWord(rest);
    try {
      switch (name) {
        case 'help':
          for (const line of helpLines()) this.info(line);
          this.info('Enter sends, Up/Down go through what you sent, Tab completes names and commands; //text sends text that starts with /.');
          break;
        case 'join': {
          if (!word) throw new Error('usage: /join ROOM');
          const known = this.convs.get(roomKey(word));
          if (known && !known.left) {
            this.setActive(known.key);
            break;
          }
          const target = this.#ensureRoom(word);
          target.left = false;
          this.emit('convs');
          try {
            await this.#join(target, this.#loggedIn());
          } catch (err) {
            if (!known) this.convs.delete(target.key);
            this.emit('convs');
            throw err;
          }
          this.setActive(target.key);
          break;
        }
        case 'leave': {
          const target = word ? this.convs.get(roomKey(word)) : conv;
          if (!target || target.kind !== 'room') throw new Error('usage: /leave [ROOM]');
          if (!target.left) await this.#request('LeaveRoom', { name: target.name });
          target.left = true;
          this.close(target.key);
          break;
        }
        case 'create': {
          let inviteOnly = false;
          let args = rest;
          if (word === '-i') {
            inviteOnly = true;
            args = tail;
          }
          const [roomName, topic] = firstWord(args);
          if (!roomName) throw new Error('usage: /create [-i] ROOM [TOPIC]');
          const target = this.#ensureRoom(roomName);
          target.joining = true;
          try {
            const answer = await this.#request('CreateRoom', { name: roomName, topic, invite_only: inviteOnly });
            this.#joined(target, answer.body, 0);
          } catch (err) {
            this.convs.delete(target.key);
            this.emit('convs');
            throw err;
          }
          this.setActive(target.key);
          break;
        }
        case 'rooms': {
          const answer = await this.#request('ListRooms', {});
          this.knownRooms = answer.body.rooms.map((r) => r.name).filter(Boolean);
          this.info(`${answer.body.rooms.length} rooms:`);
          for (const r of answer.body.rooms) {
            const flags = r.invite_only ? ' [invite-only]' : '';
            this.info(`  ${r.name === '' ? '(lobby)' : r.name}${flags}: ${r.member_count} members${r.topic ? ` — ${r.topic}` : ''}`);
          }
          break;
        }
        case 'who': {
          if (room === null) throw new Error('this command works in a room');
          const answer = await this.#request('ListMembers', { room });
          const roles = { 2: ' (operator)', 3: ' (owner)' };
          const names = answer.body.members.map((m) => `${displayOf(m.user)}${roles[m.role] ?? ''}${m.online ? '' : ' (away)'}`);
          for (const m of answer.body.members) this.#learn(m.user);
          this.info(`${answer.body.members.length} ${room === '' ? 'online' : 'members'}: ${names.join(', ')}`);
          break;
        }
        case 'w': {
          if (!word) throw new Error('usage: /w USER TEXT');
          const user = this.users.get(word.toLowerCase()) ?? { username: word, display_name: '' };
          const target = this.#ensureWhisper(user);
          this.setActive(target.key);
          if (tail) await this.#whisper(target, tail);
          break;
        }
        case 'topic':
          await this.#request('SetTopic', { room: needRoom(), topic: rest });
          break;
        case 'invite':
          if (!word) throw new Error('usage: /invite USER');
          await this.#request('Invite', { room: needRoom(), username: word });
          this.info(`Invited ${word} to ${room}.`);
          break;
        case 'kick':
          if (!word) throw new Error('usage: /kick USER [REASON]');
          await this.#request('KickMember', { room: needRoom(), username: word, reason: tail });
          break;
        case 'ban':
          if (!word) throw new Error('usage: /ban USER [REASON]');
          await this.#request('BanMember', { room: needRoom(), username: word, reason: tail });
          break;
        case 'unban':
          if (!word) throw new Error('usage: /unban USER');
          await this.#request('UnbanMember', { room: needRoom(), username: word });
          this.info(`Unbanned ${word}.`);
          break;
        case 'op':
        case 'deop':
          if (!word) throw new Error(`usage: /${name} USER`);
          await this.#request('SetRole', { room: needRoom(), username: word, role: name === 'op' ? 'OPERATOR' : 'MEMBER' });
          break;
        case 'nick':
          if (!rest) throw new Error('usage: /nick NAME');
          await this.#request('SetDisplayName', { display_name: rest });
          this.me = { ...this.me, display_name: rest };
          this.#learn(this.me);
          this.emit('me', this.me);
          this.info(`You are now ${rest}.`);
          break;
        case 'logout':
          await this.logout();
          break;
        default:
          throw new Error(`unknown command /${name}`);
      }
    } catch (err) {
      this.info(err instanceof ServerError ? `Refused: ${err.message}` : err.message);
    }
  }
}

function newConv(key, kind, name) {
  return {
    key,
    kind,
    name,
    title: name,
    topic: '',
    roomId: 0,
    role: 0,
    lastSeq: 0,
    seen: new Set(),
    items: [],
    held: [],
    joining: false,
    hasMore: false,
    left: false,
    peer: null,
    nextSeq: 1,
  };
}

/** Inserts a message after the last message with a lower seq (system lines keep their place). */
function insertBySeq(items, item) {
  let at = items.length;
  while (at > 0) {
    const prev = items[at - 1];
    if (prev.kind === 'message' && (prev.pending || prev.failed || prev.seq > item.seq)) {
      at -= 1;
      continue;
    }
    if (prev.kind === 'system' && at > 1 && items.slice(0, at - 1).some((i) => i.kind === 'message' && i.seq > item.seq)) {
      at -= 1;
      continue;
    }
    break;
  }
  items.splice(at, 0, item);
}

/** A user's display name, or username. */
export function displayOf(user) {
  if (!user) return 'someone';
  return user.display_name || user.username || 'someone';
}

function describeKick(reason, kicked) {
  const texts = {
    LOGGED_IN_ELSEWHERE: 'logged in elsewhere',
    BANNED_FROM_SERVER: 'banned from this server',
    KICKED_BY_ADMIN: 'disconnected by an admin',
    SHUTTING_DOWN: 'the server is restarting',
    IDLE_TIMEOUT: 'timed out',
    IP_REFUSED: 'your address is not allowed',
  };
  const base = texts[reason] ?? (reason ? reason.toLowerCase().replaceAll('_', ' ') : 'disconnected');
  // An admin's reason says something; the server's own messages repeat the code.
  const own = reason === 'KICKED_BY_ADMIN' || reason === 'BANNED_FROM_SERVER';
  return own && kicked?.message ? `${base}: ${kicked.message}` : base;
}
