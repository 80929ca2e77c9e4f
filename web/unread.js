// Unread and mention counts, and where each conversation was last read.
//
// The counts are the client's own: messages that arrived while their
// conversation was not in view. Everything about them lives in this module
// behind four calls (arrived, viewed, counts, lastRead), so that server-side
// read markers can replace it later without touching the rest of the page.
// Read positions of rooms are kept in localStorage (per account), so a
// reload still knows where the unread-marker line goes.

export class Unread {
  /** `storage`: a localStorage-like object (or null); `account`: the username. */
  constructor(storage, account) {
    this.storage = storage;
    this.key = `sori.read.${account.toLowerCase()}`;
    this.counts = new Map();
    this.read = new Map(Object.entries(load(storage, this.key)));
  }

  /**
   * A message arrived in conversation `conv` with position `seq`. It counts
   * as unread when `seen` is false (not in view), and as a mention too when
   * `mention` is true. Returns whether it counted.
   */
  arrived(conv, seq, { seen, mention }) {
    if (seen) {
      this.viewed(conv, seq);
      return false;
    }
    if (seq <= this.lastRead(conv)) return false;
    const c = this.#entry(conv);
    c.unread += 1;
    if (mention) c.mentions += 1;
    return true;
  }

  /** Conversation `conv` is in view up to position `seq`: its counts go to zero. */
  viewed(conv, seq) {
    this.counts.set(conv, { unread: 0, mentions: 0 });
    if (seq > this.lastRead(conv)) {
      this.read.set(conv, seq);
      this.#save();
    }
  }

  /** `{ unread, mentions }` of `conv`. */
  countsOf(conv) {
    return this.counts.get(conv) ?? { unread: 0, mentions: 0 };
  }

  /** The position up to which `conv` was read (0: never). */
  lastRead(conv) {
    return this.read.get(conv) ?? 0;
  }

  /** Whether a read position is known for `conv`. */
  knows(conv) {
    return this.read.has(conv);
  }

  /** Sets the read position without touching counts (a room seen for the first time). */
  setLastRead(conv, seq) {
    this.read.set(conv, seq);
    this.#save();
  }

  /** Forgets `conv` (left, deleted, or its numbers started over). */
  forget(conv) {
    this.counts.delete(conv);
    if (this.read.delete(conv)) this.#save();
  }

  /** Totals over every conversation, for the page title. */
  totals() {
    let unread = 0;
    let mentions = 0;
    for (const c of this.counts.values()) {
      unread += c.unread;
      mentions += c.mentions;
    }
    return { unread, mentions };
  }

  #entry(conv) {
    let c = this.counts.get(conv);
    if (!c) {
      c = { unread: 0, mentions: 0 };
      this.counts.set(conv, c);
    }
    return c;
  }

  #save() {
    if (!this.storage) return;
    try {
      // Rooms only: whisper positions are numbered per tab (web/chat.js).
      const rooms = [...this.read].filter(([conv]) => conv.startsWith('r:'));
      this.storage.setItem(this.key, JSON.stringify(Object.fromEntries(rooms)));
    } catch {
      // Storage full or disabled: read positions are then per page load.
    }
  }
}

function load(storage, key) {
  if (!storage) return {};
  try {
    const value = JSON.parse(storage.getItem(key) ?? '{}');
    return value && typeof value === 'object' ? value : {};
  } catch {
    return {};
  }
}

/** Whether `text` mentions `me` (a UserInfo): its username or display name as a word, or after @. */
export function mentions(text, me) {
  if (!me) return false;
  const names = [me.username, me.display_name].filter((n) => n && n.length > 0);
  return names.some((name) => {
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return new RegExp(`(^|[^\\p{L}\\p{N}_])@?${escaped}(?![\\p{L}\\p{N}_])`, 'iu').test(text);
  });
}
