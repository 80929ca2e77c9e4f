// Sori frames (docs/protocol.md §1): a 12-byte little-endian header (magic
// 0x34, version 1, message type u16, request id u32, body length u32), then
// the protobuf body. Over WebSocket every binary message is exactly one
// frame; over TCP frames are cut from a byte stream (FrameStream). No DOM:
// the page and the Node tests share this file.

import { Codec } from './proto.js';

export const MAGIC = 0x34;
export const VERSION = 1;
export const HEADER_LEN = 12;
/** Largest body accepted from the server (docs/protocol.md §11: at least 1 MiB). */
export const MAX_BODY_LEN = 4 * 1024 * 1024;

/** A frame that cannot be trusted: the connection should be closed. */
export class FrameError extends Error {}

/** Message codec plus the frame type table, from one schema. */
export class Protocol {
  constructor(schema) {
    this.codec = new Codec(schema);
    this.typeOf = new Map();
    this.nameOf = new Map();
    for (const [name, { type }] of Object.entries(schema.types)) {
      this.typeOf.set(name, type);
      this.nameOf.set(type, name);
    }
  }

  /** Whether the server's protocol (as this schema knows it) has `name`, or its `field`. */
  has(name, field) {
    return this.typeOf.has(name) && this.codec.has(name, field);
  }

  /** The whole frame of message `name` with `body` (an object). */
  encode(name, requestId, body = {}) {
    const type = this.typeOf.get(name);
    if (type === undefined) throw new Error(`no frame type for ${name}`);
    const payload = this.codec.encode(name, body);
    const frame = new Uint8Array(HEADER_LEN + payload.length);
    const view = new DataView(frame.buffer);
    view.setUint8(0, MAGIC);
    view.setUint8(1, VERSION);
    view.setUint16(2, type, true);
    view.setUint32(4, requestId >>> 0, true);
    view.setUint32(8, payload.length, true);
    frame.set(payload, HEADER_LEN);
    return frame;
  }

  /**
   * The header of the frame at the start of `bytes`: null while fewer than
   * 12 bytes are there. Throws FrameError on a bad magic, version or length.
   */
  header(bytes) {
    if (bytes.length >= 1 && bytes[0] !== MAGIC) throw new FrameError(`bad magic byte ${bytes[0]}`);
    if (bytes.length >= 2 && bytes[1] !== VERSION) throw new FrameError(`unsupported version ${bytes[1]}`);
    if (bytes.length < HEADER_LEN) return null;
    const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_LEN);
    const header = {
      type: view.getUint16(2, true),
      requestId: view.getUint32(4, true),
      bodyLen: view.getUint32(8, true),
    };
    if (header.bodyLen > MAX_BODY_LEN) throw new FrameError(`body of ${header.bodyLen} bytes is over the limit`);
    return header;
  }

  /**
   * One whole frame (a WebSocket message): { name, requestId, body }. `name`
   * is null for a type this schema does not know (skip it); a body that
   * does not decode throws (ProtoError), as does a bad header (FrameError).
   */
  decode(bytes) {
    const header = this.header(bytes);
    if (!header || bytes.length !== HEADER_LEN + header.bodyLen) {
      throw new FrameError('a WebSocket message is not exactly one frame');
    }
    return this.#body(header, bytes.subarray(HEADER_LEN));
  }

  #body(header, payload) {
    const name = this.nameOf.get(header.type) ?? null;
    const body = name === null ? null : this.codec.decode(name, payload);
    return { name, type: header.type, requestId: header.requestId, body };
  }

  /** A stream decoder for TCP: push bytes in, take whole frames out. */
  stream() {
    return new FrameStream(this);
  }

  /** Used by FrameStream. */
  decodeBody(header, payload) {
    return this.#body(header, payload);
  }
}

/** Cuts frames from a byte stream (one read may hold half a frame, or several). */
export class FrameStream {
  constructor(protocol) {
    this.protocol = protocol;
    this.buf = new Uint8Array(0);
  }

  /** Adds `chunk` and returns the frames now complete. */
  push(chunk) {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf, 0);
    joined.set(chunk, this.buf.length);
    this.buf = joined;
    const frames = [];
    for (;;) {
      const header = this.protocol.header(this.buf);
      if (!header || this.buf.length < HEADER_LEN + header.bodyLen) break;
      const end = HEADER_LEN + header.bodyLen;
      frames.push(this.protocol.decodeBody(header, this.buf.subarray(HEADER_LEN, end)));
      this.buf = this.buf.slice(end);
    }
    return frames;
  }
}
