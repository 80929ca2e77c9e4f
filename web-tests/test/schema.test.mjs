// The committed schema matches the proto, and the codec speaks the bytes of
// docs/protocol.md's examples.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { formatSchema, generateSchema, SCHEMA_PATH } from '../gen-schema.mjs';
import { loadProtocol } from '../tcp-client.mjs';
import { parseInput, complete } from '../../web/commands.js';
import { mentions } from '../../web/unread.js';

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const unhex = (text) => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

test('web/sori.schema.json is what gen-schema.mjs makes of proto/sori.proto', () => {
  const committed = readFileSync(SCHEMA_PATH, 'utf8');
  assert.equal(committed, formatSchema(generateSchema()),
    'web/sori.schema.json is stale: run `node web-tests/gen-schema.mjs --write`');
});

test('every frame type names a message of the proto', () => {
  const schema = generateSchema();
  for (const name of Object.keys(schema.types)) assert.ok(schema.messages[name], name);
  assert.equal(schema.types.Chat.type, 20);
  assert.equal(schema.types.Kicked.type, 62);
});

test('the codec writes and reads the annotated frames of docs/protocol.md §1.2', () => {
  const p = loadProtocol();
  assert.equal(hex(p.encode('Chat', 0x01020304, { room: '', text: 'hi' })), '34011400040302010400000012026869');
  assert.equal(hex(p.encode('Ping', 7, { nonce: 1 })), '3401320007000000020000000801');
  const pong = p.decode(unhex('34 01 33 00 07 00 00 00 02 00 00 00 08 01'));
  assert.deepEqual(pong, { name: 'Pong', type: 51, requestId: 7, body: { nonce: 1 } });
  const kicked = p.decode(unhex('34 01 3e 00 00 00 00 00 02 00 00 00 08 69'));
  assert.equal(kicked.name, 'Kicked');
  assert.equal(kicked.body.code, p.codec.enums.ErrorCode.SLOW_CONSUMER);
  assert.equal(hex(p.encode('Logout', 1)), '34010e000100000000000000');
});

test('the codec round-trips nested, repeated, enum, 64-bit and unicode fields', () => {
  const p = loadProtocol();
  const body = {
    room: { name: 'dév', topic: '<b>x</b>', invite_only: true, member_count: 3, owner: 'amy', last_seq: 2n ** 60n, room_id: 7 },
    role: 'OWNER',
    history: [
      { room: 'dév', seq: 1, timestamp_ms: 1700000000000, from: { username: 'amy', display_name: 'Amy 💬' }, text: 'hi\nthere' },
      { room: 'dév', seq: 2, timestamp_ms: -1, from: null, text: '' },
    ],
    last_seq: 2,
    resumed: true,
  };
  const back = p.decode(p.encode('RoomJoined', 9, body)).body;
  assert.equal(back.room.last_seq, 2n ** 60n);
  assert.equal(back.role, 3);
  assert.equal(back.history.length, 2);
  assert.equal(back.history[0].from.display_name, 'Amy 💬');
  assert.equal(back.history[1].timestamp_ms, -1);
  assert.equal(back.history[1].from, null);
  assert.equal(back.reload_required, false);
});

test('the codec skips unknown fields and refuses truncated bodies', () => {
  const p = loadProtocol();
  // Ping with field 1 = 5 and an unknown field 9 (varint 1), then a length-delimited field 10.
  const body = unhex('08 05 48 01 52 02 61 62');
  assert.deepEqual(p.codec.decode('Ping', body), { nonce: 5 });
  assert.throws(() => p.codec.decode('Chat', unhex('12 05 68 69')));
  assert.throws(() => p.decode(unhex('35 01 33 00 07 00 00 00 00 00 00 00')), /magic/);
});

test('slash commands, completion and mentions', () => {
  assert.deepEqual(parseInput('/join dev'), { kind: 'command', name: 'join', rest: 'dev' });
  assert.deepEqual(parseInput('/W bob hello there'), { kind: 'command', name: 'w', rest: 'bob hello there' });
  assert.deepEqual(parseInput('//shrug'), { kind: 'text', text: '/shrug' });
  assert.equal(parseInput('/nope').kind, 'unknown');
  const sources = { users: () => ['alice', 'Alice A', 'bob'], usernames: () => ['alice', 'bob'], rooms: () => ['dev', 'design'] };
  assert.deepEqual(complete('/jo', 3, sources).candidates, ['/join ']);
  assert.deepEqual(complete('/join de', 8, sources).candidates, ['design ', 'dev ']);
  assert.deepEqual(complete('/w b', 4, sources).candidates, ['bob ']);
  assert.deepEqual(complete('al', 2, sources).candidates, ['Alice A: ', 'alice: ']);
  const me = { username: 'bob', display_name: 'Bobby' };
  assert.ok(mentions('hey bob!', me));
  assert.ok(mentions('@Bobby look', me));
  assert.ok(!mentions('bobsled', me));
});
