// The session: logging in by password once and then by session token, the
// token kept in localStorage (never the password), the connection's Hello
// and the status shown in the top bar, and requests on the logged-in
// connection. web/reconnect.js decides when to log in again.

import { Connection, ConnectionLost, ServerError } from './connection.js';
import { Unread } from './unread.js';
import { learn, roomKey } from './conversations.js';
import { resumeRooms } from './resume.js';
import { restoreWhispers } from './whispers.js';

export const CLIENT_NAME = 'sori-web/0.1';
const SESSION_KEY = 'sori.session';

/** The stored session `{ username, token, expires_ms }`, if any and not expired. */
export function savedSession(chat) {
  try {
    const saved = JSON.parse(chat.local?.getItem(SESSION_KEY) ?? 'null');
    if (!saved || typeof saved.username !== 'string' || typeof saved.token !== 'string' || !saved.token) return null;
    if (saved.expires_ms && saved.expires_ms <= Date.now()) {
      forgetSession(chat);
      return null;
    }
    return saved;
  } catch {
    return null;
  }
}

/**
 * Opens a connection and says Hello; `handlers.onPush(chat, conn, frame)`
 * and `handlers.onClose(chat, conn, info)` get its pushes and its end.
 */
export async function open(chat, handlers) {
  chat.conn?.close();
  const conn = new Connection(chat.protocol, chat.url, {
    onPush: (frame) => handlers.onPush(chat, conn, frame),
    onClose: (info) => handlers.onClose(chat, conn, info),
    WebSocketImpl: chat.WebSocketImpl,
  });
  chat.conn = conn;
  conn.loggedIn = false;
  await conn.open();
  const welcome = await conn.request('Hello', { protocol_version: 1, client_name: CLIENT_NAME });
  chat.maxTextLen = welcome.body.max_text_len || chat.maxTextLen;
  return conn;
}

/**
 * Opens a connection with `connect()` (unless given one), logs in, and
 * resumes every room.
 */
export async function logIn(chat, creds, connect, given) {
  setStatus(chat, chat.me ? 'reconnecting' : 'connecting', 'connecting…');
  const conn = given ?? (await connect());
  const login = creds.token ? { username: creds.username, token: creds.token } : { username: creds.username, password: creds.password };
  const answer = await conn.request('Login', login);
  const ok = answer.body;
  if (chat.me && chat.me.username.toLowerCase() !== ok.user.username.toLowerCase()) reset(chat);
  chat.me = ok.user;
  learn(chat, ok.user);
  if (!chat.unread) chat.unread = new Unread(chat.local, ok.user.username);
  if (creds.password !== undefined) {
    if (chat.tokens && ok.session_token) saveSession(chat, ok.session_token, ok.token_expires_ms);
    else forgetSession(chat);
  }
  chat.wanted = chat.tokens && (ok.session_token || creds.token) ? { username: ok.user.username, token: ok.session_token || creds.token } : null;
  conn.loggedIn = true;
  restoreWhispers(chat);
  // From LoginOk on, the session receives its rooms: hold their pushes
  // back until each room's RoomJoined (before any await).
  const joins = resumeRooms(chat, conn, ok.rooms).map((join) => join.catch((err) => {
    // A room that went away meanwhile is reported in it; a lost
    // connection fails the whole session (and is retried).
    if (!(err instanceof ServerError)) throw err;
  }));
  chat.emit('me', chat.me);
  chat.emit('convs');
  chat.users.clear();
  const [list] = await Promise.all([conn.request('ListUsers', {}), ...joins]);
  for (const user of list.body.users) {
    chat.users.set(user.username.toLowerCase(), user);
    learn(chat, user);
  }
  chat.attempt = 0;
  setStatus(chat, 'online', '');
  chat.emit('convs');
}

export function saveSession(chat, token, expiresMs) {
  if (!token) return;
  try {
    chat.local?.setItem(SESSION_KEY, JSON.stringify({ username: chat.me.username, token, expires_ms: expiresMs || 0 }));
  } catch {
    // Storage disabled: the session lasts as long as the page.
  }
  chat.wanted = { username: chat.me.username, token };
}

export function forgetSession(chat) {
  try {
    chat.local?.removeItem(SESSION_KEY);
  } catch {
    // Nothing stored.
  }
}

/** Forgets the account's conversations and users (logout, or another account logged in). */
export function reset(chat) {
  chat.me = null;
  chat.convs.clear();
  chat.users.clear();
  chat.unread = null;
  chat.active = roomKey('');
}

export function setStatus(chat, status, detail) {
  chat.status = status;
  chat.statusDetail = detail;
  chat.emit('status', { status, detail, retryAt: status === 'reconnecting' ? chat.retryAt : 0 });
}

/** A request on the logged-in connection; rejects while there is none. */
export function request(chat, name, body) {
  try {
    return loggedIn(chat).request(name, body);
  } catch (err) {
    return Promise.reject(err);
  }
}

/** The logged-in connection; throws while there is none. */
export function loggedIn(chat) {
  if (!chat.conn || !chat.conn.loggedIn) throw new ConnectionLost('not connected: wait for the reconnect');
  return chat.conn;
}
