// Carrying out slash commands (parsed by web/commands.js): joining,
// leaving and creating rooms, listings, whispers, room moderation, the
// display name, logging out. Results and refusals are lines in the
// conversation in view.

import { ServerError } from './connection.js';
import { firstWord, helpLines } from './commands.js';
import { displayOf, ensureRoom, ensureWhisper, learn, roomKey } from './conversations.js';
import { join, joined } from './resume.js';
import { loggedIn, request } from './session.js';
import { whisper } from './send.js';

/** Carries out a parsed command; its results are lines in the conversation in view. */
export async function command(chat, name, rest) {
  const conv = chat.convs.get(chat.active);
  const room = conv && conv.kind === 'room' ? conv.name : null;
  const needRoom = () => {
    if (room === null || room === '') throw new Error('this command works in a room (not the lobby or a whisper)');
    return room;
  };
  const [word, tail] = firstWord(rest);
  try {
    switch (name) {
      case 'help':
        for (const line of helpLines()) chat.info(line);
        chat.info('Enter sends, Up/Down go through what you sent, Tab completes names and commands; //text sends text that starts with /.');
        break;
      case 'join': {
        if (!word) throw new Error('usage: /join ROOM');
        const known = chat.convs.get(roomKey(word));
        if (known && !known.left) {
          chat.setActive(known.key);
          break;
        }
        const target = ensureRoom(chat, word);
        target.left = false;
        chat.emit('convs');
        try {
          await join(chat, target, loggedIn(chat));
        } catch (err) {
          if (!known) chat.convs.delete(target.key);
          chat.emit('convs');
          throw err;
        }
        chat.setActive(target.key);
        break;
      }
      case 'leave': {
        const target = word ? chat.convs.get(roomKey(word)) : conv;
        if (!target || target.kind !== 'room') throw new Error('usage: /leave [ROOM]');
        if (!target.left) await request(chat, 'LeaveRoom', { name: target.name });
        target.left = true;
        chat.close(target.key);
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
        const target = ensureRoom(chat, roomName);
        target.joining = true;
        try {
          const answer = await request(chat, 'CreateRoom', { name: roomName, topic, invite_only: inviteOnly });
          joined(chat, target, answer.body, 0);
        } catch (err) {
          chat.convs.delete(target.key);
          chat.emit('convs');
          throw err;
        }
        chat.setActive(target.key);
        break;
      }
      case 'rooms': {
        const answer = await request(chat, 'ListRooms', {});
        chat.knownRooms = answer.body.rooms.map((r) => r.name).filter(Boolean);
        chat.info(`${answer.body.rooms.length} rooms:`);
        for (const r of answer.body.rooms) {
          const flags = r.invite_only ? ' [invite-only]' : '';
          chat.info(`  ${r.name === '' ? '(lobby)' : r.name}${flags}: ${r.member_count} members${r.topic ? ` — ${r.topic}` : ''}`);
        }
        break;
      }
      case 'who': {
        if (room === null) throw new Error('this command works in a room');
        const answer = await request(chat, 'ListMembers', { room });
        const roles = { 2: ' (operator)', 3: ' (owner)' };
        const names = answer.body.members.map((m) => `${displayOf(m.user)}${roles[m.role] ?? ''}${m.online ? '' : ' (away)'}`);
        for (const m of answer.body.members) learn(chat, m.user);
        chat.info(`${answer.body.members.length} ${room === '' ? 'online' : 'members'}: ${names.join(', ')}`);
        break;
      }
      case 'w': {
        if (!word) throw new Error('usage: /w USER TEXT');
        const user = chat.users.get(word.toLowerCase()) ?? { username: word, display_name: '' };
        const target = ensureWhisper(chat, user);
        chat.setActive(target.key);
        if (tail) await whisper(chat, target, tail);
        break;
      }
      case 'topic':
        await request(chat, 'SetTopic', { room: needRoom(), topic: rest });
        break;
      case 'invite':
        if (!word) throw new Error('usage: /invite USER');
        await request(chat, 'Invite', { room: needRoom(), username: word });
        chat.info(`Invited ${word} to ${room}.`);
        break;
      case 'kick':
        if (!word) throw new Error('usage: /kick USER [REASON]');
        await request(chat, 'KickMember', { room: needRoom(), username: word, reason: tail });
        break;
      case 'ban':
        if (!word) throw new Error('usage: /ban USER [REASON]');
        await request(chat, 'BanMember', { room: needRoom(), username: word, reason: tail });
        break;
      case 'unban':
        if (!word) throw new Error('usage: /unban USER');
        await request(chat, 'UnbanMember', { room: needRoom(), username: word });
        chat.info(`Unbanned ${word}.`);
        break;
      case 'op':
      case 'deop':
        if (!word) throw new Error(`usage: /${name} USER`);
        await request(chat, 'SetRole', { room: needRoom(), username: word, role: name === 'op' ? 'OPERATOR' : 'MEMBER' });
        break;
      case 'nick':
        if (!rest) throw new Error('usage: /nick NAME');
        await request(chat, 'SetDisplayName', { display_name: rest });
        chat.me = { ...chat.me, display_name: rest };
        learn(chat, chat.me);
        chat.emit('me', chat.me);
        chat.info(`You are now ${rest}.`);
        break;
      case 'logout':
        await chat.logout();
        break;
      default:
        throw new Error(`unknown command /${name}`);
    }
  } catch (err) {
    chat.info(err instanceof ServerError ? `Refused: ${err.message}` : err.message);
  }
}
