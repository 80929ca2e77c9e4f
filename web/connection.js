// One WebSocket connection to the server: frames out and in, requests
// matched to their answers by request id (docs/protocol.md §3), pushes handed
// to a callback, the server's keep-alive Pings answered. It knows nothing of
// chat: web/chat.js drives it, and makes a new one for every reconnect.

/** A request answered with Error: `code` is the ErrorCode number. */
export class ServerError extends Error {
  constructor(codeName, code, message, untilMs) {
    super(message ? `${message} (${codeName})` : codeName);
    this.codeName = codeName;
    this.code = code;
    this.serverMessage = message;
    this.untilMs = untilMs;
  }
}

/** The connection ended (or never opened) before the answer came. */
export class ConnectionLost extends Error {}

/** How long a request may wait for its answer. */
const REQUEST_TIMEOUT_MS = 20000;
/** How long the WebSocket handshake may take. */
const OPEN_TIMEOUT_MS = 10000;
/** A client Ping after this long without a frame from the server... */
const PROBE_AFTER_MS = 25000;
/** ...and the connection is given up if its Pong takes longer than this. */
const PROBE_TIMEOUT_MS = 10000;

export class Connection {
  /**
   * `protocol`: a web/frame.js Protocol. `onPush(frame)` gets every frame
   * with request id 0 except Pings; `onClose(info)` is called once, with
   * `{ kicked }` (the Kicked body, or null) when the connection ends.
   */
  constructor(protocol, url, { onPush, onClose, WebSocketImpl = globalThis.WebSocket }) {
    this.protocol = protocol;
    this.url = url;
    this.onPush = onPush;
    this.onClose = onClose;
    this.WebSocketImpl = WebSocketImpl;
    this.pending = new Map();
    this.nextId = 1;
    this.kicked = null;
    this.closed = false;
    this.socket = null;
    this.lastHeard = Date.now();
    this.probeTimer = null;
  }

  /** Opens the socket; resolves once it is open, rejects (ConnectionLost) if it does not open. */
  open() {
    return new Promise((resolve, reject) => {
      let settled = false;
      const socket = new this.WebSocketImpl(this.url);
      socket.binaryType = 'arraybuffer';
      this.socket = socket;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(new ConnectionLost('the server did not answer in time'));
        this.close();
      }, OPEN_TIMEOUT_MS);
      socket.onopen = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.lastHeard = Date.now();
        this.probeTimer = setInterval(() => this.#probe(), 5000);
        resolve();
      };
      socket.onmessage = (event) => this.#onMessage(event);
      socket.onclose = () => {
        clearTimeout(timer);
        if (!settled) {
          settled = true;
          reject(new ConnectionLost('could not connect to the server'));
        }
        this.#ended();
      };
      socket.onerror = () => {
        // onclose follows with the details that matter.
      };
    });
  }

  /** Sends request `name` and resolves with the answer `{ name, body }`; Error answers reject (ServerError). */
  request(name, body = {}, timeoutMs = REQUEST_TIMEOUT_MS) {
    if (this.closed || !this.socket || this.socket.readyState !== 1) {
      return Promise.reject(new ConnectionLost('not connected'));
    }
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ConnectionLost(`no answer to ${name} in time`));
        // A server that stopped answering is treated as gone.
        this.close();
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.send(this.protocol.encode(name, id, body));
    });
  }

  /** Sends a frame that gets no answer (Pong). */
  send(name, requestId, body) {
    if (this.socket && this.socket.readyState === 1) {
      this.socket.send(this.protocol.encode(name, requestId, body));
    }
  }

  /** Closes the socket; onClose follows. */
  close() {
    if (this.socket && this.socket.readyState <= 1) this.socket.close();
    else this.#ended();
  }

  #onMessage(event) {
    this.lastHeard = Date.now();
    let frame;
    try {
      frame = this.protocol.decode(new Uint8Array(event.data));
    } catch (err) {
      console.warn('sori: dropping the connection after a bad frame', err);
      this.close();
      return;
    }
    if (frame.name === null) return; // a type this page does not know: skip it
    if (frame.name === 'Ping') {
      this.send('Pong', frame.requestId, { nonce: frame.body.nonce });
      return;
    }
    if (frame.name === 'Kicked') this.kicked = frame.body;
    if (frame.requestId !== 0) {
      const waiter = this.pending.get(frame.requestId);
      if (!waiter) return;
      this.pending.delete(frame.requestId);
      clearTimeout(waiter.timer);
      if (frame.name === 'Error') {
        const { code, message, until_ms: untilMs } = frame.body;
        waiter.reject(new ServerError(this.codeName(code), code, message, untilMs));
      } else {
        waiter.resolve(frame);
      }
      return;
    }
    this.onPush(frame);
  }

  /** The ErrorCode name of `code`. */
  codeName(code) {
    const codes = this.protocol.codec.enums.ErrorCode;
    for (const [name, n] of Object.entries(codes)) if (n === code) return name;
    return `error ${code}`;
  }

  #probe() {
    const quiet = Date.now() - this.lastHeard;
    if (quiet < PROBE_AFTER_MS || this.closed) return;
    this.request('Ping', { nonce: Date.now() }, PROBE_TIMEOUT_MS).catch(() => {});
  }

  #ended() {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.probeTimer);
    for (const waiter of this.pending.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(new ConnectionLost('the connection closed'));
    }
    this.pending.clear();
    this.onClose({ kicked: this.kicked });
  }
}
