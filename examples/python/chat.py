"""A tiny Sori chat CLI.

    python chat.py --server 127.0.0.1:5252 --user alice --password secret123 --room dev

Logs in (registering the account first if the login fails and the name is
free), joins the room (creating it if it does not exist), prints the room's
recent history and every message that arrives, and sends each line of stdin
to the room. A line "/w bob hi there" whispers to bob. End of input logs out.
Without --room (or with --room "") it chats in the lobby.
"""

from __future__ import annotations

import argparse
import os
import selectors
import sys
import time

import sori_client
from sori_client import Client, ConnectionClosed, KickedError, SoriError, pb


def log_in(client: Client, user: str, password: str) -> None:
    try:
        client.login(user, password)
        return
    except SoriError as e:
        if e.code_name != "BAD_CREDENTIALS":
            raise
    # Unknown user or wrong password (the server does not say which, §4.2):
    # try to register. USERNAME_TAKEN means the password was wrong.
    try:
        client.register(user, password)
    except SoriError as e:
        if e.code_name == "USERNAME_TAKEN":
            sys.exit(f"login failed: wrong password for {user}")
        sys.exit(f"register failed: {e}")
    print(f"* registered {user}", flush=True)
    client.login(user, password)


def enter_room(client: Client, room: str):
    if room:
        try:
            return client.join_room(room)
        except SoriError as e:
            if e.code_name != "NO_SUCH_ROOM":
                raise
        print(f"* creating room {room}", flush=True)
        return client.create_room(room)
    return client.join_room("")  # the lobby: every user is in it; this only fetches history


def room_label(room: str) -> str:
    return f"#{room}" if room else "lobby"


def show(frame, last_seq: dict) -> None:
    m = frame.message
    if frame.name == "ChatMessage":
        # Drop what we already showed (§6.8: pushes may repeat history).
        if m.seq <= last_seq.get(m.room, 0):
            return
        last_seq[m.room] = m.seq
        sender = getattr(m, "from")  # `from` is a Python keyword
        print(f"[{room_label(m.room)} {m.seq}] <{sender.display_name}> {m.text}", flush=True)
    elif frame.name == "WhisperMessage":
        stored = " (while you were away)" if m.offline else ""
        print(f"*{getattr(m, 'from').display_name}*{stored} {m.text}", flush=True)
    elif frame.name in ("UserJoined", "UserLeft"):
        verb = "is online" if frame.name == "UserJoined" else "went offline"
        print(f"* {m.user.display_name} {verb}", flush=True)
    elif frame.name in ("MemberJoined", "MemberLeft"):
        verb = "joined" if frame.name == "MemberJoined" else "left"
        print(f"* {m.user.display_name} {verb} {room_label(m.room)}", flush=True)
    elif frame.name == "Error":
        print(f"! error: {pb.ErrorCode.Name(m.code)}: {m.message}", flush=True)


def send_line(client: Client, room: str, line: str, unacked: set) -> None:
    text = line.rstrip("\r")  # the server refuses \r (§5, INVALID_TEXT)
    if not text.strip():
        return
    if text.startswith("/w "):
        _, to, body = (text.split(" ", 2) + [""])[:3]
        client.send(pb.Whisper(to_username=to, text=body))
    else:
        unacked.add(client.send(pb.Chat(room=room, text=text)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", default="127.0.0.1:5252", help="host:port of the TCP listener")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--room", default="", help='room to chat in ("" or absent: the lobby)')
    args = ap.parse_args(argv)

    host, _, port = args.server.rpartition(":")
    client = Client(host or "127.0.0.1", int(port))
    welcome = client.hello("sori-python-chat/0.1")
    log_in(client, args.user, args.password)
    joined = enter_room(client, args.room)

    room = joined.room.name  # spelled as created; answers and pushes use this spelling
    last_seq = {}  # room -> the last seq shown
    for msg in joined.history:  # oldest first, every seq <= joined.last_seq (§6.7)
        show(sori_client.Frame(sori_client.TYPE_NUMBERS["ChatMessage"], 0, b"", msg), last_seq)
    last_seq[room] = max(last_seq.get(room, 0), joined.last_seq)
    print(f"* {args.user} on {welcome.server_name}, in {room_label(room)}"
          f" ({joined.room.member_count} members)", flush=True)
    # Pushes that came during login and join, and frames already buffered.
    for frame in list(client.pushes) + client.take_buffered():
        show(frame, last_seq)
    client.pushes.clear()

    sel = selectors.DefaultSelector()
    sel.register(client.sock, selectors.EVENT_READ, "server")
    sel.register(sys.stdin, selectors.EVENT_READ, "stdin")
    unacked = set()  # request ids of Chats not acknowledged yet
    pending = b""  # stdin bytes after the last line end
    try:
        while True:
            for key, _ in sel.select():
                if key.data == "stdin":
                    # Raw reads: a buffered sys.stdin.readline() could hide
                    # further lines from select().
                    data = os.read(sys.stdin.fileno(), 4096)
                    if not data:  # end of input: wait for our acks (§3.1), then log out
                        if pending:
                            send_line(client, room, pending.decode("utf-8", "replace"), unacked)
                        deadline = time.monotonic() + 5
                        while unacked and time.monotonic() < deadline:
                            try:
                                frames = client.read_available(deadline - time.monotonic())
                            except TimeoutError:
                                break
                            for frame in frames:
                                unacked.discard(frame.request_id)
                                show(frame, last_seq)
                        client.logout(timeout=5)
                        return 0
                    pending += data
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        send_line(client, room, line.decode("utf-8", "replace"), unacked)
                else:
                    for frame in client.read_available():
                        if frame.name == "Kicked":
                            raise KickedError(frame.message)
                        if frame.name == "ChatAck":
                            unacked.discard(frame.request_id)
                            last_seq[frame.message.room] = max(
                                last_seq.get(frame.message.room, 0), frame.message.seq)
                        elif frame.name == "Error" and frame.request_id in unacked:
                            unacked.discard(frame.request_id)
                        show(frame, last_seq)
    except KickedError as e:
        print(f"* {e}", file=sys.stderr, flush=True)
        return 1
    except ConnectionClosed as e:
        print(f"* {e}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
