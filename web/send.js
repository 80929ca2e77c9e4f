// Sending: room messages (shown at once as pending, placed by the seq of
// their ChatAck, marked "not sent" if it never comes), whispers, sending a
// failed message again, and loading older messages of a room.

import { addMessage, advance, insertBySeq, system } from './conversations.js';
import { request } from './session.js';
import { saveWhispers } from './whispers.js';

/** Sends `text` to the conversation in view. */
export async function send(chat, text) {
  const conv = chat.convs.get(chat.active);
  if (!conv) return;
  if (conv.kind === 'whisper') {
    await whisper(chat, conv, text);
    return;
  }
  if (conv.left) {
    system(chat, conv, 'You are not in this room any more: /join it again.');
    return;
  }
  const item = { kind: 'message', id: chat.nextLocal++, seq: 0, ts: Date.now(), from: chat.me, text, own: true, pending: true };
  conv.items.push(item);
  chat.emit('conv', conv.key);
  try {
    const ack = await request(chat, 'Chat', { room: conv.name, text });
    item.pending = false;
    const at = conv.items.indexOf(item);
    if (at >= 0) conv.items.splice(at, 1);
    if (!conv.seen.has(ack.body.seq)) {
      item.seq = ack.body.seq;
      item.ts = ack.body.timestamp_ms;
      conv.seen.add(item.seq);
      insertBySeq(conv.items, item);
      advance(chat, conv);
    }
  } catch (err) {
    item.pending = false;
    item.failed = `not sent: ${err.message}`;
  }
  chat.emit('conv', conv.key);
}

/** Sends the failed message `id` of the conversation in view again. */
export async function retry(chat, id) {
  const conv = chat.convs.get(chat.active);
  const item = conv?.items.find((i) => i.id === id && i.failed);
  if (!item) return;
  conv.items.splice(conv.items.indexOf(item), 1);
  await send(chat, item.text);
}

/** Whispers `text` in the whisper conversation `conv`. */
export async function whisper(chat, conv, text) {
  const item = { kind: 'message', id: chat.nextLocal++, seq: conv.nextSeq++, ts: Date.now(), from: chat.me, text, own: true, pending: true };
  conv.items.push(item);
  chat.emit('conv', conv.key);
  try {
    const ack = await request(chat, 'Whisper', { to_username: conv.name, text });
    item.pending = false;
    item.ts = ack.body.timestamp_ms;
    if (ack.body.stored) item.note = 'stored: delivered when they log in';
    chat.unread.viewed(conv.key, item.seq);
  } catch (err) {
    item.pending = false;
    item.failed = `not sent: ${err.message}`;
  }
  saveWhispers(chat);
  chat.emit('conv', conv.key);
}

/** Loads a page of older messages of the room in view (History before the oldest shown). */
export async function loadOlder(chat) {
  const conv = chat.convs.get(chat.active);
  if (!conv || conv.kind !== 'room' || !conv.hasMore || conv.loadingOlder) return;
  const oldest = conv.items.find((i) => i.kind === 'message' && i.seq > 0);
  conv.loadingOlder = true;
  try {
    const page = await request(chat, 'History', { room: conv.name, before_seq: oldest ? oldest.seq : 0, limit: 50 });
    for (const msg of page.body.messages) addMessage(chat, conv, msg, { live: false });
    conv.hasMore = page.body.has_more;
  } catch (err) {
    system(chat, conv, `Could not load older messages: ${err.message}`);
  } finally {
    conv.loadingOlder = false;
  }
  chat.emit('conv', conv.key);
}
