#!/usr/bin/env node
// Generates web/sori.schema.json, the schema the browser's protobuf codec
// (web/proto.js) is driven by, from the two places the protocol is defined:
//
// - proto/sori.proto: every message, field and enum (parsed by protobufjs);
// - crates/sori-protocol/src/message.rs: the frame header's message type
//   numbers, which the proto does not carry (the `messages!` table there is
//   what the server decodes by, so it is the source of truth; docs/protocol.md
//   §2 lists the same numbers for people).
//
//   node gen-schema.mjs            print the schema
//   node gen-schema.mjs --write    write web/sori.schema.json
//   node gen-schema.mjs --check    exit 1 if web/sori.schema.json is stale
//
// test/schema.test.mjs runs the check, so the committed schema never drifts
// from the proto.

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SCHEMA_PATH = join(REPO, 'web', 'sori.schema.json');

const SCALARS = new Set([
  'double', 'float', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64',
  'fixed32', 'fixed64', 'sfixed32', 'sfixed64', 'bool', 'string', 'bytes',
]);

/** The schema as an object, from the files under `repo`. */
export function generateSchema(repo = REPO) {
  const protoText = readFileSync(join(repo, 'proto', 'sori.proto'), 'utf8');
  const parsed = protobuf.parse(protoText, { keepCase: true });
  const root = parsed.root;
  root.resolveAll();
  const pkg = root.lookup(parsed.package);
  const enums = {};
  const messages = {};
  for (const item of pkg.nestedArray) {
    if (item instanceof protobuf.Enum) {
      enums[item.name] = { ...item.values };
    } else if (item instanceof protobuf.Type) {
      if (item.nestedArray.length > 0 || item.oneofsArray.length > 0) {
        throw new Error(`${item.name}: nested types and oneofs are not supported by web/proto.js`);
      }
      messages[item.name] = item.fieldsArray.map((field) => {
        if (field.map) throw new Error(`${item.name}.${field.name}: map fields are not supported`);
        let kind;
        if (SCALARS.has(field.type)) kind = 'scalar';
        else if (field.resolvedType instanceof protobuf.Enum) kind = 'enum';
        else if (field.resolvedType instanceof protobuf.Type) kind = 'message';
        else throw new Error(`${item.name}.${field.name}: unknown type ${field.type}`);
        const out = { id: field.id, name: field.name, type: field.resolvedType ? field.resolvedType.name : field.type, kind };
        if (field.repeated) out.repeated = true;
        return out;
      });
    } else {
      throw new Error(`unsupported proto item ${item.name}`);
    }
  }
  const types = messageTypes(readFileSync(join(repo, 'crates', 'sori-protocol', 'src', 'message.rs'), 'utf8'));
  for (const name of Object.keys(types)) {
    if (!messages[name]) throw new Error(`message.rs names ${name}, which proto/sori.proto does not define`);
  }
  return {
    generated_by: 'web-tests/gen-schema.mjs from proto/sori.proto and crates/sori-protocol/src/message.rs; do not edit by hand',
    package: parsed.package,
    types,
    enums,
    messages,
  };
}

/** The frame type table: `Name = number, Direction;` lines of `messages! { ... }`. */
function messageTypes(rust) {
  const start = rust.indexOf('messages! {');
  if (start < 0) throw new Error('no `messages! {` table in message.rs');
  const body = rust.slice(start, rust.indexOf('\n}', start));
  const dirs = { ClientToServer: 'c2s', ServerToClient: 's2c', Both: 'both' };
  const types = {};
  for (const m of body.matchAll(/^\s*(\w+)\s*=\s*(\d+)\s*,\s*(ClientToServer|ServerToClient|Both)\s*;/gm)) {
    types[m[1]] = { type: Number(m[2]), dir: dirs[m[3]] };
  }
  if (Object.keys(types).length === 0) throw new Error('the messages! table in message.rs is empty');
  return types;
}

/** Stable text: one field, type or enum value per line, so diffs read well. */
export function formatSchema(schema) {
  const lines = ['{'];
  lines.push(`  "generated_by": ${JSON.stringify(schema.generated_by)},`);
  lines.push(`  "package": ${JSON.stringify(schema.package)},`);
  const block = (key, entries, render, last) => {
    lines.push(`  ${JSON.stringify(key)}: {`);
    entries.forEach(([name, value], i) => {
      lines.push(`    ${JSON.stringify(name)}: ${render(value)}${i + 1 < entries.length ? ',' : ''}`);
    });
    lines.push(`  }${last ? '' : ','}`);
  };
  block('types', Object.entries(schema.types), (v) => JSON.stringify(v));
  block('enums', Object.entries(schema.enums), (values) => {
    const inner = Object.entries(values).map(([k, n]) => `      ${JSON.stringify(k)}: ${n}`);
    return `{\n${inner.join(',\n')}\n    }`;
  });
  block('messages', Object.entries(schema.messages), (fields) => {
    if (fields.length === 0) return '[]';
    return `[\n${fields.map((f) => `      ${JSON.stringify(f)}`).join(',\n')}\n    ]`;
  }, true);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = formatSchema(generateSchema());
  if (process.argv.includes('--write')) {
    writeFileSync(SCHEMA_PATH, text);
    console.log(`wrote ${SCHEMA_PATH}`);
  } else if (process.argv.includes('--check')) {
    let current = '';
    try { current = readFileSync(SCHEMA_PATH, 'utf8'); } catch { /* missing counts as stale */ }
    if (current !== text) {
      console.error('web/sori.schema.json is stale: run `node web-tests/gen-schema.mjs --write`');
      process.exit(1);
    }
    console.log('web/sori.schema.json is up to date');
  } else {
    process.stdout.write(text);
  }
}
