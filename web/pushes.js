// Incoming pushes: room and whisper messages, who came and went, room
// changes, kicks and bans from rooms, and the server's own errors, each
// turned into changes of the conversations and events for the view.

import { addMessage, displayOf, ensureRoom, ensureWhisper, learn, roomKey, setInfo, system, isViewing } from './conversations.js';
import { join } from './resume.js';
import { saveWhispers } from './whispers.js';

export function onPush(chat, conn, { name, body }) {
  if (conn !== chat.conn) return;
  switch (name) {
    case 'ChatMessage': {
      let conv = chat.convs.get(roomKey(body.room));
      if (!conv) {
        // A room this page did not know yet (joined elsewhere): load it.
        conv = ensureRoom(chat, body.room);
        conv.joining = true;
        conv.held.push(body);
        join(chat, conv, conn).catch(() => {});
        chat.emit('convs');
        return;
      }
      addMessage(chat, conv, body, { live: true });
      break;
    }
    case 'WhisperMessage': {
      learn(chat, body.from);
      const conv = ensureWhisper(chat, body.from);
      const item = { kind: 'message', id: chat.nextLocal++, seq: conv.nextSeq++, ts: body.timestamp_ms, from: body.from, text: body.text, own: false };
      if (body.offline) item.note = 'sent while you were away';
      conv.items.push(item);
      const counted = chat.unread.arrived(conv.key, item.seq, { seen: isViewing(chat, conv), mention: true });
      if (counted) chat.emit('notify', { key: conv.key, title: `${displayOf(body.from)} whispers`, body: body.text });
      saveWhispers(chat);
      chat.emit('conv', conv.key);
      chat.emit('convs');
      break;
    }
    case 'UserJoined':
      chat.users.set(body.user.username.toLowerCase(), body.user);
      learn(chat, body.user);
      break;
    case 'UserLeft':
      chat.users.delete(body.user.username.toLowerCase());
      break;
    case 'RoomUpdated': {
      const conv = chat.convs.get(roomKey(body.room.name));
      if (!conv) break;
      const old = conv.topic;
      setInfo(conv, body.room);
      if (old !== body.room.topic) system(chat, conv, `${displayOf(body.by)} set the topic: ${body.room.topic || '(none)'}`);
      else system(chat, conv, `${displayOf(body.by)} changed the room's settings.`);
      chat.emit('convs');
      break;
    }
    case 'Invited':
      chat.info(`${displayOf(body.by)} invited you to ${body.room}: /join ${body.room}`);
      break;
    case 'MemberJoined': {
      const conv = chat.convs.get(roomKey(body.room));
      if (conv) system(chat, conv, `${displayOf(body.user)} joined.`);
      break;
    }
    case 'MemberLeft': {
      const conv = chat.convs.get(roomKey(body.room));
      if (!conv) break;
      const me = body.user.username.toLowerCase() === chat.me.username.toLowerCase();
      const who = me ? 'You' : displayOf(body.user);
      const reason = body.message ? ` (${body.message})` : '';
      const how = { 2: 'kicked', 3: 'banned' }[body.reason];
      system(chat, conv, how ? `${who} ${me ? 'were' : 'was'} ${how} by ${displayOf(body.by)}${reason}.` : `${who} left.`);
      if (me) {
        conv.left = true;
        chat.emit('convs');
      }
      break;
    }
    case 'RoleChanged': {
      const conv = chat.convs.get(roomKey(body.room));
      const role = { 1: 'a member', 2: 'an operator', 3: 'the owner' }[body.role] ?? 'something else';
      if (conv) system(chat, conv, `${displayOf(body.by)} made ${displayOf(body.user)} ${role}.`);
      if (conv && body.user.username.toLowerCase() === chat.me.username.toLowerCase()) conv.role = body.role;
      break;
    }
    case 'RoomDeleted': {
      const conv = chat.convs.get(roomKey(body.room));
      if (!conv) break;
      conv.left = true;
      system(chat, conv, `${displayOf(body.by)} deleted this room.`);
      chat.emit('convs');
      break;
    }
    case 'Error':
      chat.info(`The server says: ${conn.codeName(body.code)} ${body.message}`);
      break;
    default:
      break;
  }
}
