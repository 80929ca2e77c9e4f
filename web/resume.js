// Joining and resuming rooms (docs/protocol.md §6.7, §6.8): after a login
// every room is joined again from the last seq held with nothing missing
// below it; pushes that arrive before a room's RoomJoined are held back and
// then shown once; a room made again or a reload_required starts over.

import { ServerError } from './connection.js';
import { addMessage, advance, clearConv, ensureRoom, placeMarker, roomKey, setInfo, system } from './conversations.js';

export function resumeRooms(chat, conn, rooms) {
  const listed = new Set(rooms.map((r) => roomKey(r.name)));
  for (const conv of chat.convs.values()) {
    if (conv.kind === 'room' && !listed.has(conv.key) && !conv.left) {
      conv.left = true;
      system(chat, conv, 'You are no longer a member of this room.');
    }
  }
  return rooms.map((info) => {
    const conv = ensureRoom(chat, info.name);
    conv.left = false;
    return join(chat, conv, conn, info.room_id);
  });
}

/** JoinRoom for `conv`: a resume when it has messages of the same room id, else the newest history. */
export async function join(chat, conv, conn, roomId) {
  const resume = conv.lastSeq > 0 && conv.roomId !== 0 && (roomId === undefined || roomId === conv.roomId);
  if (!resume && conv.items.some((i) => i.kind === 'message')) {
    clearConv(conv);
    if (roomId !== undefined && conv.roomId !== 0) system(chat, conv, 'This room was deleted and made again; showing the new one.');
  }
  const since = resume ? conv.lastSeq : 0;
  conv.joining = true;
  try {
    const answer = await conn.request('JoinRoom', resume
      ? { name: conv.name, since_seq: since, room_id: conv.roomId }
      : { name: conv.name });
    joined(chat, conv, answer.body, since);
  } catch (err) {
    conv.joining = false;
    conv.held = [];
    if (err instanceof ServerError) system(chat, conv, `Could not join: ${err.message}`);
    throw err;
  }
}

/** Applies a RoomJoined: history first, then the pushes held back (docs/protocol.md §6.7, §6.8). */
export function joined(chat, conv, rj, since) {
  const first = conv.roomId === 0 || !chat.unread.knows(conv.key);
  setInfo(conv, rj.room);
  conv.role = rj.role;
  if (rj.reload_required) {
    clearConv(conv);
    system(chat, conv, 'Too much was missed while away: showing the newest messages.');
  }
  if (first) chat.unread.setLastRead(conv.key, Math.min(rj.last_seq, chat.unread.lastRead(conv.key) || rj.last_seq));
  const readBefore = chat.unread.lastRead(conv.key);
  if (since === 0 || rj.reload_required) {
    conv.hasMore = rj.history.length > 0 ? rj.history[0].seq > 1 : rj.last_seq > 0;
  }
  for (const msg of rj.history) addMessage(chat, conv, msg, { live: false });
  dropResent(chat, conv, rj.history);
  // In view: the unread-marker line goes after what was read before.
  if (chat.active === conv.key && conv.marker == null) placeMarker(conv, readBefore);
  conv.lastSeq = Math.max(rj.last_seq, since === 0 || rj.reload_required ? 0 : conv.lastSeq);
  advance(chat, conv);
  conv.joining = false;
  const held = conv.held;
  conv.held = [];
  for (const msg of held) addMessage(chat, conv, msg, { live: true });
  chat.emit('conv', conv.key);
}

/** Own messages that failed with the connection but reached the server after all. */
export function dropResent(chat, conv, history) {
  const mine = history.filter((m) => m.from?.username.toLowerCase() === chat.me.username.toLowerCase());
  if (mine.length === 0) return;
  conv.items = conv.items.filter((item) => !(item.own && item.failed && mine.some((m) => m.text === item.text)));
}
