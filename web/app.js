// Entry point: loads the schema, connects the chat model (web/chat.js) to
// the page (web/ui.js), and resumes the stored session if there is one.

import { Protocol } from './frame.js';
import { Chat } from './chat.js';
import { Notifier } from './notify.js';
import { Ui } from './ui.js';

/** The WebSocket endpoint: the same host that served this page, at /ws. */
function wsUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}

async function main() {
  const response = await fetch('sori.schema.json', { cache: 'no-cache' });
  if (!response.ok) throw new Error(`sori.schema.json: HTTP ${response.status}`);
  const protocol = new Protocol(await response.json());
  const chat = new Chat({ protocol, url: wsUrl(), local: window.localStorage, session: window.sessionStorage });
  const ui = new Ui(chat, new Notifier(window.localStorage));
  if (chat.savedSession()) ui.showChat();
  chat.start();
}

main().catch((err) => {
  const box = document.getElementById('login-error');
  document.getElementById('login-view').hidden = false;
  box.textContent = `The page could not start: ${err.message}`;
});
