// Test support: the real sori-server binary on free loopback ports, headless
// Chromium through playwright-core, and bounded waits. Nothing here talks to
// any address but 127.0.0.1.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SCREENSHOTS = join(REPO, 'target', 'web-screenshots');
export const PASSWORD = 'correct horse battery';
/** The bound on every single wait in the tests. */
export const WAIT_MS = 15000;

export const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
  + "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` (async, truthy when done) every 50 ms until `ms`; throws with `what` on time-out. */
export async function waitFor(check, what, ms = WAIT_MS) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * The real server. `start()` runs the binary on the ports and database
 * given, `stop()` ends it (SIGTERM, then SIGKILL after the grace), and
 * `start()` again reuses both: a restart.
 */
export class SoriServer {
  constructor({ tcpPort, wsPort, database, extraArgs = [] }) {
    this.binary = process.env.SORI_SERVER || join(REPO, 'target', 'debug', 'sori-server');
    this.tcpPort = tcpPort;
    this.wsPort = wsPort;
    this.database = database;
    this.extraArgs = extraArgs;
    this.proc = null;
    this.log = '';
  }

  static async create(extraArgs = []) {
    const dir = mkdtempSync(join(tmpdir(), 'sori-web-'));
    const server = new SoriServer({
      tcpPort: await freePort(),
      wsPort: await freePort(),
      database: join(dir, 'sori.db'),
      extraArgs,
    });
    server.dir = dir;
    return server;
  }

  async start() {
    if (!existsSync(this.binary)) throw new Error(`no server binary at ${this.binary}: run cargo build -p sori-server, or set SORI_SERVER`);
    const args = [
      '--listen', `127.0.0.1:${this.tcpPort}`,
      '--ws-listen', `127.0.0.1:${this.wsPort}`,
      '--database', this.database,
      '--hash-memory-kib', '64',
      '--hash-iterations', '1',
      '--status-interval', '0s',
      '--shutdown-grace', '1s',
      ...this.extraArgs,
    ];
    const proc = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' } });
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    const keep = (chunk) => {
      this.log = (this.log + chunk.toString()).slice(-20000);
    };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`the server exited (${proc.exitCode}):\n${this.log}`);
      return (await canConnect(this.tcpPort)) && (await canConnect(this.wsPort));
    }, 'the server to listen', 20000);
  }

  async stop() {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 8000);
    await this.exited;
    clearTimeout(timer);
    this.proc = null;
  }

  async dispose() {
    await this.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** http://127.0.0.1:WS_PORT/: where the server serves the page. */
  get url() {
    return `http://127.0.0.1:${this.wsPort}/`;
  }
}

/**
 * Where the page is loaded from: the server's own listener, which serves
 * the files of web/ embedded when it was built. For working on the page
 * without rebuilding the server, SORI_WEB_FROM_DISK=1 serves web/ from disk
 * with a small stand-in (same headers) that passes /ws through to the server.
 */
export async function pageUrl(server) {
  if (process.env.SORI_WEB_FROM_DISK === '1') return fromDisk(server.wsPort);
  const served = await get(server.url);
  if (served.status === 200 && String(served.headers['content-type']).startsWith('text/html')) return { url: server.url, stop: async () => {} };
  throw new Error(`the server does not serve the page at ${server.url} (HTTP ${served.status})`);
}

/** GET `url`: `{ status, headers, body }`. */
export function get(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 5000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.txt': 'text/plain; charset=utf-8' };

async function fromDisk(wsPort) {
  const root = join(REPO, 'web');
  const server = http.createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file = join(root, path === '/' ? 'index.html' : path);
    if (!file.startsWith(root) || !existsSync(file) || file.endsWith('.md')) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' });
    res.end(readFileSync(file));
  });
  server.on('upgrade', (req, socket, head) => {
    const upstream = net.connect({ host: '127.0.0.1', port: wsPort }, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    const end = () => {
      upstream.destroy();
      socket.destroy();
    };
    upstream.on('error', end);
    upstream.on('close', end);
    socket.on('error', end);
    socket.on('close', end);
  });
  const port = await freePort();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}/`,
    stop: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}

/** Headless Chromium (Debian's), as the brief for these tests says. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    timeout: 30000,
  });
}

/** A screenshot under target/web-screenshots/. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, timeout: WAIT_MS });
  return path;
}
