// A small protobuf (proto3) codec driven by a schema: web/sori.schema.json,
// generated from proto/sori.proto by web-tests/gen-schema.mjs. No DOM, no
// dependencies: the browser page and the Node tests (web-tests/) share it.
//
// Messages are plain objects with the proto's field names (snake_case).
// Decoding fills every field: absent scalars get their proto3 default (0,
// "", false), absent messages null, repeated fields []. Enums decode to their
// number. 64-bit integers decode to a Number while it is exact (every seq and
// timestamp is), and to a BigInt past 2^53; encoding takes either. Unknown
// fields are skipped, as proto3 requires.

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

const PACKABLE = new Set([
  'double', 'float', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64',
  'fixed32', 'fixed64', 'sfixed32', 'sfixed64', 'bool',
]);

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** A decoding failure: the bytes are not a valid message of the type. */
export class ProtoError extends Error {}

/** A codec for every message of `schema` (the parsed sori.schema.json). */
export class Codec {
  constructor(schema) {
    this.schema = schema;
    this.messages = new Map();
    for (const [name, fields] of Object.entries(schema.messages)) {
      const byId = new Map();
      for (const field of fields) byId.set(field.id, field);
      this.messages.set(name, { name, fields, byId });
    }
    this.enums = schema.enums;
  }

  /** Whether the schema has message `type` (with field `field`, if given). */
  has(type, field) {
    const message = this.messages.get(type);
    if (!message) return false;
    return field === undefined || message.fields.some((f) => f.name === field);
  }

  /** The bytes of `value` as message `type`. */
  encode(type, value = {}) {
    const writer = new Writer();
    this.#encodeInto(writer, this.#message(type), value);
    return writer.finish();
  }

  /** The message `type` in `bytes` (a Uint8Array). */
  decode(type, bytes) {
    return this.#decodeFrom(new Reader(bytes), this.#message(type), bytes.length);
  }

  /** An object of type `type` with every field at its default. */
  defaults(type) {
    const out = {};
    for (const field of this.#message(type).fields) out[field.name] = defaultOf(field);
    return out;
  }

  #message(type) {
    const message = this.messages.get(type);
    if (!message) throw new Error(`no message ${type} in the schema`);
    return message;
  }

  #encodeInto(writer, message, value) {
    for (const field of message.fields) {
      const v = value[field.name];
      if (v === undefined || v === null) continue;
      if (field.repeated) {
        if (!Array.isArray(v)) throw new TypeError(`${message.name}.${field.name} must be an array`);
        if (v.length === 0) continue;
        const scalarType = field.kind === 'enum' ? 'int32' : field.type;
        if (field.kind !== 'message' && PACKABLE.has(scalarType)) {
          const inner = new Writer();
          for (const item of v) writeScalar(inner, scalarType, item);
          writer.tag(field.id, WIRE_LEN);
          writer.bytes(inner.finish());
        } else {
          for (const item of v) this.#encodeField(writer, field, item);
        }
      } else if (!isDefault(field, v)) {
        this.#encodeField(writer, field, v);
      }
    }
  }

  #encodeField(writer, field, v) {
    if (field.kind === 'message') {
      const inner = new Writer();
      this.#encodeInto(inner, this.#message(field.type), v);
      writer.tag(field.id, WIRE_LEN);
      writer.bytes(inner.finish());
    } else {
      const type = field.kind === 'enum' ? 'int32' : field.type;
      writer.tag(field.id, wireTypeOf(type));
      writeScalar(writer, type, field.kind === 'enum' ? this.#enumNumber(field.type, v) : v);
    }
  }

  #enumNumber(enumName, v) {
    if (typeof v === 'number') return v;
    const n = this.enums[enumName]?.[v];
    if (n === undefined) throw new TypeError(`${v} is not a value of ${enumName}`);
    return n;
  }

  #decodeFrom(reader, message, end) {
    const out = {};
    for (const field of message.fields) out[field.name] = defaultOf(field);
    while (reader.pos < end) {
      const key = reader.varint32();
      const id = key >>> 3;
      const wire = key & 7;
      if (id === 0) throw new ProtoError('field number 0');
      const field = message.byId.get(id);
      if (!field) {
        reader.skip(wire);
        continue;
      }
      const scalarType = field.kind === 'enum' ? 'int32' : field.type;
      if (field.kind === 'message') {
        if (wire !== WIRE_LEN) throw new ProtoError(`${message.name}.${field.name}: wrong wire type`);
        const len = reader.length();
        const value = this.#decodeFrom(reader, this.#message(field.type), reader.pos + len);
        if (field.repeated) out[field.name].push(value);
        else out[field.name] = value; // proto3: a repeated occurrence replaces (merging is not needed here)
      } else if (field.repeated && wire === WIRE_LEN && PACKABLE.has(scalarType)) {
        const stop = reader.pos + reader.length();
        while (reader.pos < stop) out[field.name].push(readScalar(reader, scalarType));
        if (reader.pos !== stop) throw new ProtoError('packed field overran its length');
      } else {
        if (wire !== wireTypeOf(scalarType)) throw new ProtoError(`${message.name}.${field.name}: wrong wire type`);
        const value = readScalar(reader, scalarType);
        if (field.repeated) out[field.name].push(value);
        else out[field.name] = value;
      }
    }
    if (reader.pos !== end) throw new ProtoError('message overran its length');
    return out;
  }
}

function defaultOf(field) {
  if (field.repeated) return [];
  if (field.kind === 'message') return null;
  if (field.kind === 'enum') return 0;
  switch (field.type) {
    case 'string': return '';
    case 'bytes': return new Uint8Array(0);
    case 'bool': return false;
    default: return 0;
  }
}

function isDefault(field, v) {
  if (field.kind === 'message') return false;
  if (field.kind === 'enum') return v === 0;
  switch (field.type) {
    case 'string': return v === '';
    case 'bytes': return v.length === 0;
    case 'bool': return v === false;
    default: return v === 0 || v === 0n;
  }
}

function wireTypeOf(type) {
  switch (type) {
    case 'double': case 'fixed64': case 'sfixed64': return WIRE_I64;
    case 'float': case 'fixed32': case 'sfixed32': return WIRE_I32;
    case 'string': case 'bytes': return WIRE_LEN;
    default: return WIRE_VARINT;
  }
}

const MASK64 = (1n << 64n) - 1n;

/** A BigInt from a Number or BigInt, checked to be an integer. */
function big(v) {
  if (typeof v === 'bigint') return v;
  if (!Number.isInteger(v)) throw new TypeError(`${v} is not an integer`);
  return BigInt(v);
}

/** A Number while exact, a BigInt past that. */
function narrow(b) {
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

function writeScalar(w, type, v) {
  switch (type) {
    case 'string': w.bytes(textEncoder.encode(String(v))); break;
    case 'bytes': w.bytes(v); break;
    case 'bool': w.varint(v ? 1n : 0n); break;
    case 'int32': case 'int64': case 'uint32': case 'uint64': w.varint(big(v) & MASK64); break;
    case 'sint32': case 'sint64': {
      const b = big(v);
      w.varint(((b << 1n) ^ (b < 0n ? MASK64 : 0n)) & MASK64);
      break;
    }
    case 'fixed32': case 'sfixed32': w.fixed(big(v), 4); break;
    case 'fixed64': case 'sfixed64': w.fixed(big(v), 8); break;
    case 'float': { const b = new DataView(new ArrayBuffer(4)); b.setFloat32(0, v, true); w.raw(new Uint8Array(b.buffer)); break; }
    case 'double': { const b = new DataView(new ArrayBuffer(8)); b.setFloat64(0, v, true); w.raw(new Uint8Array(b.buffer)); break; }
    default: throw new TypeError(`unsupported type ${type}`);
  }
}

function readScalar(r, type) {
  switch (type) {
    case 'string': {
      try {
        return textDecoder.decode(r.take(r.length()));
      } catch {
        throw new ProtoError('a string is not valid UTF-8');
      }
    }
    case 'bytes': return r.take(r.length()).slice();
    case 'bool': return r.varint() !== 0n;
    case 'uint32': return Number(r.varint() & 0xffffffffn);
    case 'int32': return Number(BigInt.asIntN(32, r.varint()));
    case 'uint64': return narrow(r.varint());
    case 'int64': return narrow(BigInt.asIntN(64, r.varint()));
    case 'sint32': case 'sint64': {
      const u = r.varint();
      const v = (u >> 1n) ^ -(u & 1n);
      return type === 'sint32' ? Number(BigInt.asIntN(32, v)) : narrow(v);
    }
    case 'fixed32': return Number(r.fixed(4));
    case 'sfixed32': return Number(BigInt.asIntN(32, r.fixed(4)));
    case 'fixed64': return narrow(r.fixed(8));
    case 'sfixed64': return narrow(BigInt.asIntN(64, r.fixed(8)));
    case 'float': return new DataView(r.take(4).slice().buffer).getFloat32(0, true);
    case 'double': return new DataView(r.take(8).slice().buffer).getFloat64(0, true);
    default: throw new TypeError(`unsupported type ${type}`);
  }
}

class Writer {
  constructor() {
    this.parts = [];
    this.len = 0;
  }

  tag(id, wire) {
    this.varint(BigInt((id << 3) | wire));
  }

  varint(b) {
    const out = [];
    let v = b;
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      out.push(byte);
    } while (v !== 0n);
    this.raw(Uint8Array.from(out));
  }

  fixed(b, n) {
    const out = new Uint8Array(n);
    let v = BigInt.asUintN(n * 8, b);
    for (let i = 0; i < n; i++) {
      out[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    this.raw(out);
  }

  bytes(u8) {
    this.varint(BigInt(u8.length));
    this.raw(u8);
  }

  raw(u8) {
    this.parts.push(u8);
    this.len += u8.length;
  }

  finish() {
    const out = new Uint8Array(this.len);
    let at = 0;
    for (const part of this.parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
}

class Reader {
  constructor(bytes) {
    this.buf = bytes;
    this.pos = 0;
  }

  varint() {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new ProtoError('truncated varint');
      const byte = this.buf[this.pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result & MASK64;
      shift += 7n;
    }
    throw new ProtoError('varint longer than 10 bytes');
  }

  varint32() {
    const v = this.varint();
    if (v > 0xffffffffn) throw new ProtoError('field key out of range');
    return Number(v);
  }

  length() {
    const n = this.varint();
    if (n > BigInt(this.buf.length - this.pos)) throw new ProtoError('length past the end');
    return Number(n);
  }

  take(n) {
    if (this.pos + n > this.buf.length) throw new ProtoError('truncated');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  fixed(n) {
    const bytes = this.take(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
    return v;
  }

  skip(wire) {
    switch (wire) {
      case WIRE_VARINT: this.varint(); break;
      case WIRE_I64: this.take(8); break;
      case WIRE_LEN: this.take(this.length()); break;
      case WIRE_I32: this.take(4); break;
      default: throw new ProtoError(`unsupported wire type ${wire}`);
    }
  }
}
