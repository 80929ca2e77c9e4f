// Reconnecting: what a lost or closed connection means (retry with backoff,
// or stop after a kick that must not loop, or hand over to the login form),
// the waits between tries, and each new try, which logs in again with the
// session token and resumes every room.

import { ServerError } from './connection.js';
import { forgetSession, logIn, open, setStatus } from './session.js';
import { onPush } from './pushes.js';

/** Waits between reconnect attempts; the last one repeats. A random part of up to a third is added. */
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
/** Kicks after which the page does not reconnect by itself. */
const NO_RETRY = new Set(['LOGGED_IN_ELSEWHERE', 'LOGGED_OUT', 'BANNED_FROM_SERVER', 'KICKED_BY_ADMIN', 'IP_REFUSED']);

const HANDLERS = { onPush, onClose };

/** Opens a connection whose pushes and end this page handles. */
export function connect(chat) {
  return open(chat, HANDLERS);
}

/** Opens a connection (unless given one), logs in, and resumes every room. */
export function session(chat, creds, given) {
  return logIn(chat, creds, () => connect(chat), given);
}

function onClose(chat, conn, { kicked }) {
  if (conn !== chat.conn) return;
  chat.conn = null;
  for (const conv of chat.convs.values()) {
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
    if (changed) chat.emit('conv', conv.key);
  }
  const reason = kicked ? conn.codeName(kicked.code) : null;
  if (reason === 'LOGGED_OUT') return; // logout() has told the page
  const why = kicked ? describeKick(reason, kicked) : 'connection lost';
  if (!chat.wanted) {
    // Nothing to log in again with (a password login on a server without
    // tokens, or a login form still open): the form takes over.
    if (conn.loggedIn) {
      setStatus(chat, 'stopped', why);
      chat.emit('login-needed', { reason: `Disconnected (${why}): log in again.` });
    }
    return;
  }
  if (reason && NO_RETRY.has(reason)) {
    setStatus(chat, 'stopped', why);
    return;
  }
  scheduleRetry(chat, why);
}

function scheduleRetry(chat, why) {
  if (chat.retryTimer || !chat.wanted) return;
  const base = BACKOFF_MS[Math.min(chat.attempt, BACKOFF_MS.length - 1)];
  const wait = Math.round(base * (1 + Math.random() / 3));
  chat.attempt += 1;
  chat.retryAt = Date.now() + wait;
  setStatus(chat, 'reconnecting', why);
  chat.retryTimer = setTimeout(() => {
    chat.retryTimer = null;
    reconnectNow(chat);
  }, wait);
}

export function stopRetrying(chat) {
  clearTimeout(chat.retryTimer);
  chat.retryTimer = null;
}

export async function reconnectNow(chat) {
  stopRetrying(chat);
  const creds = chat.wanted;
  if (!creds) return;
  try {
    await session(chat, creds);
  } catch (err) {
    if (err instanceof ServerError && (err.codeName === 'TOKEN_INVALID' || err.codeName === 'BAD_CREDENTIALS')) {
      chat.wanted = null;
      forgetSession(chat);
      chat.conn?.close();
      setStatus(chat, 'stopped', 'session expired');
      chat.emit('login-needed', { reason: 'Your session has expired: log in again.' });
      return;
    }
    if (err instanceof ServerError && err.codeName === 'BANNED_FROM_SERVER') {
      chat.wanted = null;
      chat.conn?.close();
      setStatus(chat, 'stopped', err.message);
      chat.emit('login-needed', { reason: err.message });
      return;
    }
    // A broken connection (or a refusal worth retrying): try again later.
    const conn = chat.conn;
    if (conn) {
      conn.close();
    } else {
      scheduleRetry(chat, err.message);
    }
  }
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
