// End to end: the real sori-server, the page it serves, headless Chromium
// for two people (alice, bob) and a TCP client (carol) using the same codec.
// The tests run in order and share the server and the browsers; each step
// builds on the one before (accounts, rooms, messages).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CSP, PASSWORD, SoriServer, WAIT_MS, get, launchBrowser, pageUrl, screenshot, waitFor } from '../support.mjs';
import { TcpClient } from '../tcp-client.mjs';

const XSS = '<img src=x onerror=window.__pwned=1>';

let server;
let site;
let browser;
let alice;
let bob;
let carol;

/** One person in the browser: their own context (own localStorage), one page. */
async function person(name) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(String(err)));
  page.on('console', (msg) => {
    if (msg.type() === 'error') page.errors.push(msg.text());
  });
  await page.goto(site.url, { waitUntil: 'load' });
  return { name, context, page };
}

async function register(p, username, displayName) {
  const { page } = p;
  await page.waitForSelector('#login-view:not([hidden])');
  await page.click('#mode-register');
  await page.fill('#login-username', username);
  await page.fill('#login-password', PASSWORD);
  if (displayName) await page.fill('#login-display', displayName);
  await page.click('#login-submit');
  await page.waitForSelector('#chat-view:not([hidden])');
  await connState(p, 'online');
}

async function connState(p, state) {
  await p.page.waitForSelector(`#conn[data-state="${state}"]`);
}

async function send(p, text) {
  await p.page.fill('#input', text);
  await p.page.press('#input', 'Enter');
}

/**
 * Types `/join ROOM` and waits until the room is open: the page opens it
 * once the server answers, and what is typed before goes to the
 * conversation open until then.
 */
async function joinRoom(p, room) {
  await send(p, `/join ${room}`);
  await p.page.waitForFunction((want) => document.getElementById('conv-title').textContent === want, `# ${room}`);
}

/** Opens the sidebar entry whose name is `label` ("lobby", "# dev", a person's name). */
async function open(p, label) {
  // At phone width the sidebar slides in from the menu button.
  if (await p.page.isVisible('#menu-toggle') && !(await p.page.$eval('#chat-view', (c) => c.classList.contains('menu-open')))) {
    await p.page.click('#menu-toggle');
  }
  await p.page.locator('.conv-list button', { has: p.page.locator('.name', { hasText: label }) }).first().click();
  await p.page.waitForFunction((want) => document.getElementById('conv-title').textContent.endsWith(want), label.replace(/^# /, ''));
}

/** The texts of the messages shown, in order. */
function texts(p) {
  return p.page.$$eval('#message-list .msg .text', (nodes) => nodes.map((n) => n.textContent));
}

async function seeText(p, text) {
  try {
    await p.page.waitForFunction(
      (want) => [...document.querySelectorAll('#message-list .msg .text')].some((n) => n.textContent === want),
      text,
    );
  } catch (err) {
    const title = await p.page.textContent('#conv-title').catch(() => '?');
    const shown = await texts(p).catch(() => []);
    throw new Error(`${p.name} does not see ${JSON.stringify(text)} in ${JSON.stringify(title)}, which shows ${JSON.stringify(shown)}: ${err.message}`);
  }
}

/** The badges of a sidebar entry: `{ unread, mention }` as shown. */
function badges(p, label) {
  return p.page.evaluate((want) => {
    for (const b of document.querySelectorAll('.conv-list button')) {
      if (b.querySelector('.name').textContent === want) {
        return { unread: b.querySelector('.badge.unread')?.textContent ?? '', mention: b.querySelector('.badge.mention')?.textContent ?? '' };
      }
    }
    return null;
  }, label);
}

function countOf(list, text) {
  return list.filter((t) => t === text).length;
}

before(async () => {
  // Generous rates: the tests send bursts no person would, and open
  // browser after browser (each with connections of its own) from one
  // address. test/page.test.mjs loads the page under the default limits.
  server = await SoriServer.create([
    '--messages-per-sec', '500', '--messages-burst', '500',
    '--new-connections-per-ip-per-sec', '1000', '--new-connections-per-ip-burst', '1000',
  ]);
  await server.start();
  site = await pageUrl(server);
  browser = await launchBrowser();
});

after(async () => {
  carol?.close();
  await browser?.close();
  await site?.stop();
  await server?.dispose();
});

test('the server serves the page, with its Content-Security-Policy', async () => {
  // Always the server's own listener (also with SORI_WEB_FROM_DISK).
  const index = await get(server.url);
  assert.equal(index.status, 200);
  assert.match(index.headers['content-type'], /^text\/html/);
  assert.equal(index.headers['content-security-policy'], CSP);
  assert.equal(index.headers['x-content-type-options'], 'nosniff');
  assert.doesNotMatch(index.body, /<script(?![^>]*\bsrc=)/, 'no inline script');
  assert.doesNotMatch(index.body, /https?:\/\//, 'nothing loaded from elsewhere');
  const app = await get(`${server.url}app.js`);
  assert.equal(app.status, 200);
  assert.match(app.headers['content-type'], /^text\/javascript/);
  const schema = await get(`${server.url}sori.schema.json`);
  assert.equal(schema.status, 200);
  assert.ok(JSON.parse(schema.body).types.Chat);
});

test('two people register in the browser, a third over TCP, and they chat in the lobby', async () => {
  alice = await person('alice');
  await screenshot(alice.page, 'login');
  await register(alice, 'alice', 'Alice A');
  bob = await person('bob');
  await register(bob, 'bob', 'Bobby');

  carol = await TcpClient.connect(server.tcpPort);
  const ok = await carol.registerAndLogin('carol', PASSWORD, 'Carol');
  assert.equal(ok.user.username, 'carol');

  await send(alice, 'hello from alice');
  await seeText(bob, 'hello from alice');
  const push = await carol.waitPush((f) => f.name === 'ChatMessage' && f.body.text === 'hello from alice');
  assert.equal(push.body.from.display_name, 'Alice A');

  await carol.request('Chat', { room: '', text: 'hi from carol over tcp' });
  await seeText(alice, 'hi from carol over tcp');
  await seeText(bob, 'hi from carol over tcp');
  await send(bob, 'bob here');
  await seeText(alice, 'bob here');
  await carol.waitPush((f) => f.name === 'ChatMessage' && f.body.text === 'bob here');
  // The sender sees its own message once (placed by its ChatAck).
  await waitFor(async () => countOf(await texts(alice), 'hello from alice') === 1 && !(await alice.page.$('.msg.pending')), 'alice\'s message acked');
});

test('a room: created in one browser, joined by the other and over TCP', async () => {
  await send(alice, '/create dev the dev room');
  await alice.page.waitForFunction(() => document.getElementById('conv-title').textContent === '# dev');
  await bob.page.fill('#input', '/jo');
  await bob.page.press('#input', 'Tab');
  assert.equal(await bob.page.inputValue('#input'), '/join ');
  await bob.page.type('#input', 'dev');
  await bob.page.press('#input', 'Enter');
  await bob.page.waitForFunction(() => document.getElementById('conv-title').textContent === '# dev');
  await carol.request('JoinRoom', { name: 'dev' });

  await send(alice, 'welcome to dev');
  await seeText(bob, 'welcome to dev');
  await carol.waitPush((f) => f.name === 'ChatMessage' && f.body.room === 'dev' && f.body.text === 'welcome to dev');
  await carol.request('Chat', { room: 'dev', text: 'carol in dev' });
  await seeText(alice, 'carol in dev');
  await seeText(bob, 'carol in dev');
  await send(bob, 'bob in dev');
  await seeText(alice, 'bob in dev');
  assert.equal(await alice.page.textContent('#conv-topic'), 'the dev room');
  await screenshot(alice.page, 'chat-room');
});

test('whispers between the browsers and from TCP, with unread and mention badges', async () => {
  await open(bob, 'lobby');
  await send(alice, '/w bob psst bob');
  await waitFor(async () => (await badges(bob, 'Alice A'))?.mention === '@1', 'a whisper badge for bob');
  await screenshot(bob.page, 'whisper-badge');
  await open(bob, 'Alice A');
  await seeText(bob, 'psst bob');
  assert.deepEqual(await badges(bob, 'Alice A'), { unread: '', mention: '' });
  await send(bob, 'hi alice, whispering back');
  await seeText(alice, 'hi alice, whispering back');

  await carol.request('Whisper', { to_username: 'alice', text: 'carol whispers to alice' });
  await waitFor(async () => (await badges(alice, 'Carol'))?.mention === '@1', 'a whisper badge for alice');
  await open(alice, 'Carol');
  await seeText(alice, 'carol whispers to alice');
  await send(alice, 'alice answers carol');
  const whisper = await carol.waitPush((f) => f.name === 'WhisperMessage' && f.body.text === 'alice answers carol');
  assert.equal(whisper.body.from.username, 'alice');

  // Room messages while bob looks elsewhere: unread counts, and a mention.
  await open(bob, 'lobby');
  await carol.request('Chat', { room: 'dev', text: 'just chatting' });
  await carol.request('Chat', { room: 'dev', text: 'hey bob, look at this' });
  await waitFor(async () => {
    const b = await badges(bob, '# dev');
    return b?.unread === '2' && b?.mention === '@1';
  }, 'unread 2 and a mention on # dev');
  await open(bob, '# dev');
  // The unread-marker line sits just above the first unread message.
  const marker = await bob.page.evaluate(() => {
    const m = document.querySelector('#message-list .unread-marker');
    return m?.nextElementSibling?.querySelector('.text')?.textContent ?? null;
  });
  assert.equal(marker, 'just chatting');
  assert.deepEqual(await badges(bob, '# dev'), { unread: '', mention: '' });
});

test('a reload resumes without the password, history intact, nothing twice', async () => {
  const stored = await bob.page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  assert.ok(!stored.includes(PASSWORD), 'the password is not stored');
  assert.match(stored, /sori\.session/);
  await bob.page.reload({ waitUntil: 'load' });
  await connState(bob, 'online');
  assert.equal(await bob.page.isHidden('#login-view'), true, 'no login form after a reload');
  await open(bob, '# dev');
  await seeText(bob, 'bob in dev');
  const dev = await texts(bob);
  for (const text of ['welcome to dev', 'carol in dev', 'bob in dev', 'just chatting', 'hey bob, look at this']) {
    assert.equal(countOf(dev, text), 1, `${text} once in ${JSON.stringify(dev)}`);
  }
  // Whispers come back too (kept in this tab's sessionStorage).
  await open(bob, 'Alice A');
  await seeText(bob, 'psst bob');
  assert.equal(countOf(await texts(bob), 'hi alice, whispering back'), 1);
  await send(bob, 'still here after the reload');
  await open(alice, 'Bobby');
  await seeText(alice, 'still here after the reload');
});

test('a resume after being away fills the gap exactly', async () => {
  await open(bob, '# dev');
  // Another login to bob's account replaces the page's session: it stops
  // (it does not fight back) and offers to reconnect.
  const other = await TcpClient.connect(server.tcpPort);
  const token = await bob.page.evaluate(() => JSON.parse(localStorage.getItem('sori.session')).token);
  await other.request('Login', { username: 'bob', token });
  await connState(bob, 'stopped');
  for (let i = 1; i <= 5; i++) await carol.request('Chat', { room: 'dev', text: `missed ${i}` });
  other.close();
  await bob.page.click('#conn-retry');
  await connState(bob, 'online');
  await seeText(bob, 'missed 5');
  const dev = await texts(bob);
  const missed = dev.filter((t) => t.startsWith('missed '));
  assert.deepEqual(missed, ['missed 1', 'missed 2', 'missed 3', 'missed 4', 'missed 5']);
  assert.equal(countOf(dev, 'welcome to dev'), 1);
});

test('a server restart shows the reconnect indicator, then recovers', async () => {
  await open(alice, '# dev');
  await seeText(alice, 'missed 5');
  await server.stop();
  await alice.page.waitForSelector('#conn[data-state="reconnecting"]');
  await screenshot(alice.page, 'reconnecting');
  await server.start();
  carol.close();
  carol = await TcpClient.connect(server.tcpPort);
  await carol.request('Login', { username: 'carol', password: PASSWORD });
  await carol.request('Chat', { room: 'dev', text: 'after the restart' });
  await connState(alice, 'online');
  await connState(bob, 'online');
  await seeText(alice, 'after the restart');
  await seeText(bob, 'after the restart');
  for (const p of [alice, bob]) {
    const dev = await texts(p);
    for (const text of ['welcome to dev', 'missed 3', 'after the restart']) assert.equal(countOf(dev, text), 1, `${p.name}: ${text} once`);
  }
  await send(alice, 'alice after the restart');
  await seeText(bob, 'alice after the restart');
});

test('markup in messages, topics, kick reasons and names is shown as text', async () => {
  // The server's name rules refuse markup in usernames and display names;
  // the refusal is shown as text too.
  const mallory = await person('mallory');
  await mallory.page.waitForSelector('#login-view:not([hidden])');
  await mallory.page.click('#mode-register');
  await mallory.page.fill('#login-username', 'mallory');
  await mallory.page.fill('#login-password', PASSWORD);
  await mallory.page.fill('#login-display', XSS);
  await mallory.page.click('#login-submit');
  await mallory.page.waitForFunction(() => document.getElementById('login-error').textContent.length > 0);
  await mallory.page.fill('#login-display', 'Mal-lo.ry_ 1');
  await mallory.page.click('#login-submit');
  await connState(mallory, 'online');

  await open(alice, '# dev');
  await joinRoom(mallory, 'dev');
  await send(mallory, XSS);
  await send(mallory, '<script>window.__pwned=2</script><b>bold?</b>');
  await send(alice, `/topic ${XSS}`);
  await seeText(bob, XSS);
  await seeText(alice, '<script>window.__pwned=2</script><b>bold?</b>');
  await send(alice, `/kick mallory ${XSS}`);
  await alice.page.waitForFunction((want) => [...document.querySelectorAll('#message-list .system')].some((n) => n.textContent.includes(want)), XSS);
  await alice.page.waitForFunction((want) => document.getElementById('conv-topic').textContent === want, XSS);

  for (const p of [alice, bob, mallory]) {
    assert.equal(await p.page.evaluate(() => window.__pwned), undefined, `${p.name}: nothing ran`);
    assert.equal(await p.page.$$eval('#message-list img, #message-list script, #message-list b', (n) => n.length), 0, `${p.name}: no elements from messages`);
    assert.equal(await p.page.$$eval('#conv-topic *, .conv-list .name *', (n) => n.length), 0);
    assert.deepEqual(p.page.errors, [], `${p.name}: no page errors`);
  }
  assert.equal(await alice.page.textContent('.msg.own .from, .msg:not(.own) .from'), await alice.page.textContent('.msg .from'));
  await mallory.context.close();
});

test('load older pages back, and reading history is not yanked to the bottom', async () => {
  const done = [];
  await carol.request('CreateRoom', { name: 'busy' });
  for (let i = 1; i <= 70; i++) done.push(carol.request('Chat', { room: 'busy', text: `line ${i}` }));
  await Promise.all(done);
  await joinRoom(alice, 'busy');
  await seeText(alice, 'line 70');
  assert.equal((await texts(alice)).length, 50);
  await alice.page.click('#load-older');
  await seeText(alice, 'line 1');
  const all = await texts(alice);
  assert.deepEqual(all, Array.from({ length: 70 }, (_, i) => `line ${i + 1}`));
  await waitFor(async () => alice.page.isHidden('#load-older'), 'no more to load');

  // Scrolled up to read: a new message does not move the view.
  await alice.page.$eval('#messages', (box) => { box.scrollTop = 0; });
  const top = await alice.page.$eval('#messages', (box) => box.scrollTop);
  await carol.request('Chat', { room: 'busy', text: 'line 71' });
  await seeText(alice, 'line 71');
  assert.equal(await alice.page.$eval('#messages', (box) => box.scrollTop), top);
  await alice.page.waitForSelector('#jump:not([hidden])');
  await alice.page.click('#jump');
  await waitFor(() => alice.page.$eval('#messages', (box) => box.scrollHeight - box.scrollTop - box.clientHeight < 5), 'at the bottom');
  // At the bottom, new messages keep it there.
  await carol.request('Chat', { room: 'busy', text: 'line 72' });
  await seeText(alice, 'line 72');
  await waitFor(() => alice.page.$eval('#messages', (box) => box.scrollHeight - box.scrollTop - box.clientHeight < 5), 'still at the bottom');
});

test('input history with Up/Down, and a phone-width layout', async () => {
  await open(alice, '# dev');
  await send(alice, 'first line');
  await send(alice, 'second line');
  await alice.page.press('#input', 'ArrowUp');
  assert.equal(await alice.page.inputValue('#input'), 'second line');
  await alice.page.press('#input', 'ArrowUp');
  assert.equal(await alice.page.inputValue('#input'), 'first line');
  await alice.page.press('#input', 'ArrowDown');
  assert.equal(await alice.page.inputValue('#input'), 'second line');
  await alice.page.press('#input', 'ArrowDown');
  assert.equal(await alice.page.inputValue('#input'), '');

  await bob.page.setViewportSize({ width: 390, height: 780 });
  await open(bob, '# dev');
  assert.equal(await bob.page.isVisible('#menu-toggle'), true);
  await waitFor(() => bob.page.$eval('#sidebar', (s) => s.getBoundingClientRect().right <= 0), 'the sidebar off screen until the menu opens');
  const composeWidth = await bob.page.$eval('#compose', (c) => c.getBoundingClientRect().width);
  assert.ok(composeWidth <= 390);
  await screenshot(bob.page, 'phone');
  await bob.page.click('#menu-toggle');
  await waitFor(() => bob.page.$eval('#sidebar', (s) => s.getBoundingClientRect().left >= 0), 'the sidebar to slide in');
  await screenshot(bob.page, 'phone-menu');
  await open(bob, 'lobby');
  await waitFor(() => bob.page.$eval('#sidebar', (s) => s.getBoundingClientRect().right <= 0), 'the sidebar to close');
});

test('notifications: opt-in by the button, then mentions and whispers while looking elsewhere', async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  context.setDefaultTimeout(WAIT_MS);
  // A stand-in Notification API that records what would be shown.
  await context.addInitScript(() => {
    window.__notes = [];
    class FakeNotification {
      static permission = 'default';
      static requestPermission() {
        FakeNotification.permission = 'granted';
        return Promise.resolve('granted');
      }
      constructor(title, options) {
        window.__notes.push({ title, body: options.body });
      }
      close() {}
    }
    window.Notification = FakeNotification;
  });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(String(err)));
  await page.goto(site.url);
  const dave = { name: 'dave', context, page };
  await register(dave, 'dave', 'Dave');
  await joinRoom(dave, 'dev');
  await open(dave, 'lobby');
  await carol.request('Chat', { room: 'dev', text: 'dave: before opting in' });
  await waitFor(async () => (await badges(dave, '# dev'))?.mention === '@1', 'a mention badge');
  assert.equal(await page.evaluate(() => window.__notes.length), 0, 'nothing shown before the opt-in');
  await page.click('#notify-toggle');
  await page.waitForFunction(() => document.getElementById('notify-toggle').textContent === 'Turn notifications off');
  await carol.request('Chat', { room: 'dev', text: 'dave: <b>after</b> opting in' });
  await carol.request('Chat', { room: 'dev', text: 'no mention here' });
  await carol.request('Whisper', { to_username: 'dave', text: 'a whisper for dave' });
  await waitFor(async () => (await page.evaluate(() => window.__notes.length)) === 2, 'two notifications');
  assert.deepEqual(await page.evaluate(() => window.__notes), [
    { title: 'Carol in dev', body: 'dave: <b>after</b> opting in' },
    { title: 'Carol whispers', body: 'a whisper for dave' },
  ]);

  // Changing the password replaces the stored token; the old password stops working.
  const before = await page.evaluate(() => JSON.parse(localStorage.getItem('sori.session')).token);
  await page.click('#password-open');
  await page.fill('#old-password', PASSWORD);
  await page.fill('#new-password', 'a brand new password');
  await page.click('#password-form button[type=submit]');
  await page.waitForFunction(() => !document.getElementById('password-dialog').open);
  const afterChange = await page.evaluate(() => JSON.parse(localStorage.getItem('sori.session')).token);
  assert.notEqual(afterChange, before);
  assert.equal(await page.inputValue('#old-password'), '');
  await page.reload({ waitUntil: 'load' });
  await connState(dave, 'online');
  const probe = await TcpClient.connect(server.tcpPort);
  await assert.rejects(probe.request('Login', { username: 'dave', password: PASSWORD }), (err) => err.code === 'BAD_CREDENTIALS');
  await assert.rejects(probe.request('Login', { username: 'dave', token: before }), (err) => err.code === 'TOKEN_INVALID');
  probe.close();
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('logging out forgets the session', async () => {
  await send(bob, '/logout');
  await bob.page.waitForSelector('#login-view:not([hidden])');
  assert.equal(await bob.page.evaluate(() => localStorage.getItem('sori.session')), null);
  await bob.page.reload({ waitUntil: 'load' });
  await bob.page.waitForSelector('#login-view:not([hidden])');
  for (const p of [alice, bob]) assert.deepEqual(p.page.errors, [], `${p.name}: no page errors`);
});
