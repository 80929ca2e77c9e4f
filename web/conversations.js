// Conversation state, no network: the rooms and whisper conversations the
// page holds, their keys, and their messages in seq order and each once
// (docs/protocol.md §6.8); the read marker and unread counting as messages
// arrive; the names seen, for completion. The other chat modules work on
// the Chat object of web/chat.js through these functions.

import { mentions } from './unread.js';

/** The conversation key of a room (names compare case-insensitively; the lobby is ""). */
export function roomKey(name) {
  return `r:${name.toLowerCase()}`;
}

/** The conversation key of whispers with a user. */
export function whisperKey(username) {
  return `w:${username.toLowerCase()}`;
}

/** The marker goes after `read` if a message of someone else follows it; else there is none. */
export function placeMarker(conv, read) {
  const unread = conv.items.some((i) => i.kind === 'message' && !i.own && i.seq > read);
  conv.marker = unread ? read : null;
}

export function markViewed(chat, conv) {
  if (!chat.unread) return;
  chat.unread.viewed(conv.key, conv.kind === 'room' ? conv.lastSeq : conv.nextSeq - 1);
}

export function ensureRoom(chat, name) {
  const key = roomKey(name);
  let conv = chat.convs.get(key);
  if (!conv) {
    conv = newConv(key, 'room', name);
    conv.title = name === '' ? 'lobby' : name;
    chat.convs.set(key, conv);
  }
  return conv;
}

export function ensureWhisper(chat, user) {
  const key = whisperKey(user.username);
  let conv = chat.convs.get(key);
  if (!conv) {
    conv = newConv(key, 'whisper', user.username);
    chat.convs.set(key, conv);
    chat.emit('convs');
  }
  if (user.display_name) conv.peer = user;
  conv.peer = conv.peer ?? user;
  conv.title = conv.peer.display_name || conv.peer.username;
  return conv;
}

export function setInfo(conv, info) {
  conv.name = info.name;
  conv.title = info.name === '' ? 'lobby' : info.name;
  conv.topic = info.topic;
  conv.inviteOnly = info.invite_only;
  conv.memberCount = info.member_count;
  conv.roomId = info.room_id;
}

export function clearConv(conv) {
  conv.items = conv.items.filter((i) => i.own && i.failed);
  conv.seen = new Set();
  conv.lastSeq = 0;
  conv.hasMore = false;
}

export function isViewing(chat, conv) {
  return chat.visible && chat.active === conv.key;
}

/** Adds a room message (history, resume or push), in seq order, once. */
export function addMessage(chat, conv, msg, { live }) {
  if (conv.joining && live) {
    conv.held.push(msg);
    return;
  }
  if (conv.seen.has(msg.seq) || (live && msg.seq <= conv.lastSeq)) return;
  conv.seen.add(msg.seq);
  if (msg.from) learn(chat, msg.from);
  const own = msg.from && chat.me && msg.from.username.toLowerCase() === chat.me.username.toLowerCase();
  const item = { kind: 'message', id: chat.nextLocal++, seq: msg.seq, ts: msg.timestamp_ms, from: msg.from, text: msg.text, own };
  insertBySeq(conv.items, item);
  if (live) advance(chat, conv);
  if (!own) {
    const mention = mentions(msg.text, chat.me);
    const counted = chat.unread.arrived(conv.key, msg.seq, { seen: isViewing(chat, conv), mention });
    if (live && mention && counted) chat.emit('notify', { key: conv.key, title: `${displayOf(msg.from)} in ${conv.title}`, body: msg.text });
    if (counted || (mention && live)) chat.emit('convs');
  } else if (isViewing(chat, conv)) {
    chat.unread.viewed(conv.key, conv.lastSeq);
  }
  if (live) chat.emit('conv', conv.key);
}

/** lastSeq is the highest seq below which nothing is missing. */
export function advance(chat, conv) {
  while (conv.seen.has(conv.lastSeq + 1)) conv.lastSeq += 1;
  if (isViewing(chat, conv)) chat.unread.viewed(conv.key, conv.lastSeq);
}

export function system(chat, conv, text) {
  conv.items.push({ kind: 'system', id: chat.nextLocal++, ts: Date.now(), text });
  chat.emit('conv', conv.key);
}

export function learn(chat, user) {
  if (user.username) {
    chat.names.add(user.username);
    chat.usernames.add(user.username);
  }
  if (user.display_name) chat.names.add(user.display_name);
}

export function newConv(key, kind, name) {
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
export function insertBySeq(items, item) {
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
