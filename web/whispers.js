// Whispers kept across reloads: the server keeps no whisper history, so the
// last WHISPERS_KEPT of each conversation go to sessionStorage (a reload in
// the same tab keeps them, closing the tab or logging out forgets them).

import { ensureWhisper } from './conversations.js';

/** Whisper messages kept per conversation across reloads (sessionStorage). */
const WHISPERS_KEPT = 200;

function whispersKey(chat) {
  return `sori.whispers.${chat.me.username.toLowerCase()}`;
}

export function saveWhispers(chat) {
  if (!chat.session || !chat.me) return;
  const out = [];
  for (const conv of chat.convs.values()) {
    if (conv.kind !== 'whisper') continue;
    const items = conv.items.filter((i) => i.kind === 'message' && !i.pending && !i.failed).slice(-WHISPERS_KEPT)
      .map(({ seq, ts, from, text, own, note }) => ({ seq, ts, from, text, own, note }));
    out.push({ peer: conv.peer, nextSeq: conv.nextSeq, items });
  }
  try {
    chat.session.setItem(whispersKey(chat), JSON.stringify(out));
  } catch {
    // Storage full or disabled: whispers then last as long as the page.
  }
}

export function restoreWhispers(chat) {
  if (!chat.session || [...chat.convs.values()].some((c) => c.kind === 'whisper')) return;
  let saved = [];
  try {
    saved = JSON.parse(chat.session.getItem(whispersKey(chat)) ?? '[]');
  } catch {
    return;
  }
  if (!Array.isArray(saved)) return;
  for (const entry of saved) {
    if (!entry?.peer?.username) continue;
    const conv = ensureWhisper(chat, entry.peer);
    conv.nextSeq = Number(entry.nextSeq) || 1;
    conv.items = (entry.items ?? []).map((i) => ({ kind: 'message', id: chat.nextLocal++, seq: i.seq, ts: i.ts, from: i.from, text: String(i.text), own: !!i.own, note: i.note }));
    // Shown before the reload: read.
    chat.unread.setLastRead(conv.key, conv.nextSeq - 1);
  }
}

export function forgetWhispers(chat) {
  if (!chat.session || !chat.me) return;
  try {
    chat.session.removeItem(whispersKey(chat));
  } catch {
    // Nothing stored.
  }
}
