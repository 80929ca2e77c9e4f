// Desktop notifications for mentions and whispers: off until the user turns
// them on with the button (the browser then asks for permission), and shown
// only while the conversation is not in view. Text only: the Notification
// API shows title and body as plain text.

const KEY = 'sori.notify';

export class Notifier {
  constructor(storage) {
    this.storage = storage;
  }

  /** Whether this browser can show notifications at all. */
  available() {
    return typeof Notification !== 'undefined';
  }

  /** Whether the user turned them on and the browser allows them. */
  enabled() {
    return this.available() && Notification.permission === 'granted' && this.#get() === 'on';
  }

  /** Turns them on (asking the browser) or off; resolves to the new state. */
  async toggle() {
    if (!this.available()) return false;
    if (this.enabled()) {
      this.#set('off');
      return false;
    }
    const permission = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission();
    this.#set(permission === 'granted' ? 'on' : 'off');
    return this.enabled();
  }

  /** Shows one; `onClick` brings its conversation into view. */
  show(title, body, onClick) {
    if (!this.enabled()) return;
    try {
      const n = new Notification(title, { body: body.length > 200 ? `${body.slice(0, 200)}…` : body, tag: 'sori' });
      n.onclick = () => {
        window.focus();
        onClick();
        n.close();
      };
    } catch {
      // Some browsers only allow notifications from a service worker.
    }
  }

  #get() {
    try {
      return this.storage?.getItem(KEY);
    } catch {
      return null;
    }
  }

  #set(value) {
    try {
      this.storage?.setItem(KEY, value);
    } catch {
      // Not kept: asked again next time.
    }
  }
}
