// A tiny Sori client over plain TCP, for the tests: the same codec as the
// browser (web/proto.js, web/frame.js), frames cut from the byte stream,
// requests matched by id, server Pings answered.

import net from 'node:net';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Protocol } from '../web/frame.js';

const SCHEMA = join(dirname(fileURLToPath(import.meta.url)), '..', 'web', 'sori.schema.json');

/** The protocol (codec and type table) from the committed schema. */
export function loadProtocol() {
  return new Protocol(JSON.parse(readFileSync(SCHEMA, 'utf8')));
}

export class TcpClient {
  constructor(socket, protocol) {
    this.socket = socket;
    this.protocol = protocol;
    this.stream = protocol.stream();
    this.nextId = 1;
    this.pending = new Map();
    this.pushes = [];
    this.waiters = [];
    this.closed = false;
    socket.setNoDelay(true);
    socket.on('data', (chunk) => {
      let frames;
      try {
        frames = this.stream.push(new Uint8Array(chunk));
      } catch (err) {
        socket.destroy(err);
        return;
      }
      for (const frame of frames) this.#frame(frame);
    });
    socket.on('close', () => {
      this.closed = true;
      for (const { reject, timer } of this.pending.values()) {
        clearTimeout(timer);
        reject(new Error('connection closed'));
      }
      this.pending.clear();
      this.#wake();
    });
    socket.on('error', () => {});
  }

  /** Connects to 127.0.0.1:`port`. */
  static connect(port, protocol = loadProtocol(), timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${port} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new TcpClient(socket, protocol));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Sends request `name`; resolves with the answer's body, rejects on Error (err.code is the name). */
  request(name, body = {}, timeoutMs = 10000) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer to ${name} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, name });
      this.socket.write(this.protocol.encode(name, id, body));
    });
  }

  /** Waits for a push matching `test(frame)` (also one that came earlier and was not taken). */
  waitPush(test, timeoutMs = 10000) {
    const at = this.pushes.findIndex(test);
    if (at >= 0) return Promise.resolve(this.pushes.splice(at, 1)[0]);
    return new Promise((resolve, reject) => {
      const waiter = { test, resolve, reject };
      waiter.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching push within ${timeoutMs} ms; got ${this.pushes.map((p) => p.name).join(', ') || 'none'}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Registers (ignoring USERNAME_TAKEN) and logs in; resolves with LoginOk. */
  async registerAndLogin(username, password, displayName = '') {
    try {
      await this.request('Register', { username, password, display_name: displayName });
    } catch (err) {
      if (err.code !== 'USERNAME_TAKEN') throw err;
    }
    return this.request('Login', { username, password });
  }

  close() {
    this.socket.destroy();
  }

  #frame(frame) {
    if (frame.name === 'Ping') {
      this.socket.write(this.protocol.encode('Pong', frame.requestId, { nonce: frame.body.nonce }));
      return;
    }
    if (frame.requestId !== 0 && this.pending.has(frame.requestId)) {
      const { resolve, reject, timer, name } = this.pending.get(frame.requestId);
      this.pending.delete(frame.requestId);
      clearTimeout(timer);
      if (frame.name === 'Error') {
        const code = Object.entries(this.protocol.codec.enums.ErrorCode).find(([, n]) => n === frame.body.code)?.[0];
        const err = new Error(`${name}: ${code} ${frame.body.message}`);
        err.code = code;
        reject(err);
      } else {
        resolve(frame.body);
      }
      return;
    }
    this.pushes.push(frame);
    this.#wake();
  }

  #wake() {
    for (const waiter of [...this.waiters]) {
      const at = this.pushes.findIndex(waiter.test);
      if (at >= 0) {
        const [frame] = this.pushes.splice(at, 1);
        clearTimeout(waiter.timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        waiter.resolve(frame);
      } else if (this.closed) {
        clearTimeout(waiter.timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        waiter.reject(new Error('connection closed while waiting for a push'));
      }
    }
  }
}
