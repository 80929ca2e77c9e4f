// Slash commands and tab completion, as pure functions (no DOM, no
// connection): the page calls them, and web/chat.js carries the commands out.

/** Every command: name, what its arguments complete to, and its help line. */
export const COMMANDS = [
  { name: 'join', args: ['room'], usage: '/join ROOM', help: 'join a room, or go to one you are in' },
  { name: 'leave', args: ['room'], usage: '/leave [ROOM]', help: 'leave this room (or ROOM)' },
  { name: 'create', args: [], usage: '/create [-i] ROOM [TOPIC]', help: 'create a room; -i makes it invite-only' },
  { name: 'rooms', args: [], usage: '/rooms', help: 'list the rooms you may join' },
  { name: 'who', args: [], usage: '/who', help: 'who is in this room (in the lobby: who is online)' },
  { name: 'w', args: ['user'], usage: '/w USER TEXT', help: 'whisper to a user' },
  { name: 'topic', args: [], usage: '/topic TEXT', help: "set this room's topic (operators)" },
  { name: 'invite', args: ['user'], usage: '/invite USER', help: 'invite a user to this room (operators)' },
  { name: 'kick', args: ['user'], usage: '/kick USER [REASON]', help: 'remove a member from this room (operators)' },
  { name: 'ban', args: ['user'], usage: '/ban USER [REASON]', help: 'remove a member and keep them out (operators)' },
  { name: 'unban', args: ['user'], usage: '/unban USER', help: 'lift a ban from this room (operators)' },
  { name: 'op', args: ['user'], usage: '/op USER', help: 'make a member an operator (owner)' },
  { name: 'deop', args: ['user'], usage: '/deop USER', help: "take a member's operator rights (owner)" },
  { name: 'nick', args: [], usage: '/nick NAME', help: 'change your display name' },
  { name: 'logout', args: [], usage: '/logout', help: 'log out (forgets the session on this browser)' },
  { name: 'help', args: [], usage: '/help', help: 'this list' },
];

const BY_NAME = new Map(COMMANDS.map((c) => [c.name, c]));
BY_NAME.set('whisper', BY_NAME.get('w'));
BY_NAME.set('msg', BY_NAME.get('w'));

/**
 * What the user typed: `{ kind: 'text', text }`, `{ kind: 'command', name,
 * rest }` (rest: everything after the name, trimmed), or `{ kind: 'unknown',
 * name }`. A line starting with `//` is text that starts with `/`.
 */
export function parseInput(line) {
  if (!line.startsWith('/') || line.startsWith('//')) {
    return { kind: 'text', text: line.startsWith('//') ? line.slice(1) : line };
  }
  const match = /^\/(\S*)\s*([\s\S]*)$/.exec(line);
  const name = match[1].toLowerCase();
  const command = BY_NAME.get(name);
  if (!command) return { kind: 'unknown', name };
  return { kind: 'command', name: command.name, rest: match[2].trim() };
}

/** Splits `rest` into its first word and the remainder. */
export function firstWord(rest) {
  const match = /^(\S*)\s*([\s\S]*)$/.exec(rest);
  return [match[1], match[2]];
}

/**
 * Tab completion of `line` with the caret at `caret`. `sources` has
 * `users()` (usernames and display names) and `rooms()` (room names).
 * Returns the candidates for the word before the caret, and where it starts:
 * `{ start, end, candidates }` (each candidate is the whole replacement,
 * with a trailing space).
 */
export function complete(line, caret, sources) {
  const before = line.slice(0, caret);
  const start = before.search(/\S*$/);
  const word = before.slice(start);
  const lower = word.toLowerCase();
  let pool;
  let suffix = ' ';
  if (start === 0 && word.startsWith('/')) {
    pool = COMMANDS.map((c) => `/${c.name}`);
  } else {
    const head = /^\/(\S+)\s/.exec(before);
    const command = head ? BY_NAME.get(head[1].toLowerCase()) : null;
    const argIndex = head ? before.slice(head[0].length).trim().split(/\s+/).filter(Boolean).length - (word ? 1 : 0) : -1;
    const kind = command && argIndex === 0 ? command.args[0] : null;
    if (kind === 'room') pool = sources.rooms();
    else if (kind === 'user') pool = sources.usernames();
    else {
      pool = sources.users();
      // A name that starts the line is being addressed: "alice: hi".
      if (start === 0) suffix = ': ';
    }
  }
  const seen = new Set();
  const candidates = [];
  for (const item of pool) {
    const key = item.toLowerCase();
    if (item.length === 0 || seen.has(key) || !key.startsWith(lower)) continue;
    seen.add(key);
    candidates.push(item + suffix);
  }
  candidates.sort((a, b) => a.localeCompare(b));
  return { start, end: caret, candidates };
}

/** The help lines, for /help. */
export function helpLines() {
  return COMMANDS.map((c) => `${c.usage.padEnd(26)} ${c.help}`);
}
