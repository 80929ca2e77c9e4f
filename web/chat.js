// The chat as the page knows it, with no DOM: the Chat object that web/ui.js
// shows and listens to. It holds the state and the events; the work is done
// by the modules it is made of (none of which imports this one):
//   session.js        logging in (password once, then session token), the stored token
//   reconnect.js      what a closed connection means, backoff, each new try
//   resume.js         joining and resuming rooms with no gap and no duplicate (§6.8)
//   conversations.js  rooms and whispers and their messages, in order and once
//   whispers.js       whispers kept across reloads (sessionStorage)
//   pushes.js         what the server pushes
//   send.js           sending messages and whispers, loading older messages
//   execute.js        carrying out slash commands

import { markViewed, placeMarker, roomKey, system } from './conversations.js';
import { forgetSession, request, reset, saveSession, savedSession } from './session.js';
import { connect, reconnectNow, session, stopRetrying } from './reconnect.js';
import { forgetWhispers, saveWhispers } from './whispers.js';
import { loadOlder, retry, send } from './send.js';
import { command } from './execute.js';

export { CLIENT_NAME } from './session.js';
export { displayOf, roomKey, whisperKey } from './conversations.js';

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
      reconnectNow(this);
    } else {
      this.emit('login-needed', { reason: '' });
    }
  }

  /** The stored session `{ username, token, expires_ms }`, if any and not expired. */
  savedSession() {
    return savedSession(this);
  }

  /** Logs in with a password (from the form). Rejects with the reason. */
  async login(username, password) {
    stopRetrying(this);
    await session(this, { username, password });
  }

  /** Creates an account, then logs in. */
  async register(username, password, displayName) {
    stopRetrying(this);
    const conn = await connect(this);
    await conn.request('Register', { username, password, display_name: displayName });
    await session(this, { username, password }, conn);
  }

  /** Changes the password; the stored token is replaced by the new one. */
  async changePassword(oldPassword, newPassword) {
    const answer = await request(this, 'ChangePassword', { old_password: oldPassword, new_password: newPassword });
    saveSession(this, answer.body.session_token, answer.body.token_expires_ms);
  }

  /** Logs out: the server revokes the token, and this browser forgets it. */
  async logout() {
    this.wanted = null;
    stopRetrying(this);
    forgetSession(this);
    forgetWhispers(this);
    try {
      await request(this, 'Logout', {});
    } catch {
      // Closed already: the token is forgotten here either way.
    }
    this.conn?.close();
    reset(this);
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
    reconnectNow(this);
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
    if (this.unread) placeMarker(conv, this.unread.lastRead(key));
    markViewed(this, conv);
    this.emit('active', key);
    this.emit('convs');
  }

  /** Whether the page is visible; unread counts keep growing while it is not. */
  setVisible(visible) {
    this.visible = visible;
    if (visible && this.convs.has(this.active)) {
      markViewed(this, this.convs.get(this.active));
      this.emit('convs');
    }
  }

  /** Closes a whisper conversation or a room the user is no longer in. */
  close(key) {
    const conv = this.convs.get(key);
    if (!conv || (conv.kind === 'room' && !conv.left)) return;
    this.convs.delete(key);
    this.unread?.forget(key);
    if (conv.kind === 'whisper') saveWhispers(this);
    if (this.active === key) this.setActive(roomKey(''));
    this.emit('convs');
  }

  /** A line of information in the conversation in view. */
  info(text) {
    const conv = this.convs.get(this.active);
    if (conv) system(this, conv, text);
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

  // -- sending and commands -------------------------------------------------

  /** Sends `text` to the conversation in view. */
  send(text) {
    return send(this, text);
  }

  /** Sends the failed message `id` of the conversation in view again. */
  retry(id) {
    return retry(this, id);
  }

  /** Loads a page of older messages of the room in view (History before the oldest shown). */
  loadOlder() {
    return loadOlder(this);
  }

  /** Carries out a parsed command; its results are lines in the conversation in view. */
  command(name, rest) {
    return command(this, name, rest);
  }
}
