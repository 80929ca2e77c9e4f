#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets: fuzz/corpus/decode/ and
fuzz/corpus/server_stream/.

Seeds are small frames of several types, streams of frames, and the
malformed classes (truncated header or body, bad magic, bad version,
oversize length, unknown type, malformed body). For server_stream the first
byte picks the mode: 0x00 sends the bytes as they are, 0x01 sends a valid
Login for the fuzzer's user first, so post-login seeds reach the logged-in
handlers. Standard library only:

    python3 scripts/make-fuzz-corpus.py

The frame layout is docs/protocol.md's: magic 0x34, version 1, type (u16
LE), request id (u32 LE), body length (u32 LE), then the protobuf body. The
bodies are encoded here by hand (strings, varints), which is all these
seeds need.
"""

import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "fuzz" / "corpus"

MAGIC, VERSION = 0x34, 1

# Type numbers from crates/sori-protocol/src/message.rs.
HELLO, REGISTER, LOGIN, LOGOUT = 1, 10, 11, 14
CHAT, WHISPER, LIST_USERS, PING = 20, 30, 40, 50
CREATE_ROOM, JOIN_ROOM, LEAVE_ROOM, LIST_ROOMS, HISTORY = 70, 71, 73, 74, 78


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(num: int, value: int) -> bytes:
    return varint(num << 3) + varint(value)


def field_str(num: int, value: str) -> bytes:
    data = value.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def frame(msg_type: int, request_id: int, body: bytes, *, magic=MAGIC, version=VERSION, body_len=None) -> bytes:
    length = len(body) if body_len is None else body_len
    return struct.pack("<BBHII", magic, version, msg_type, request_id, length) + body


hello = frame(HELLO, 1, field_varint(1, 1) + field_str(2, "seed/0.1"))
register = frame(REGISTER, 2, field_str(1, "seeduser") + field_str(2, "correct horse battery"))
login = frame(LOGIN, 3, field_str(1, "fuzzer") + field_str(2, "correct horse battery"))
ping = frame(PING, 4, field_varint(1, 42))
chat = frame(CHAT, 5, field_str(2, "hello, lobby"))
chat_room = frame(CHAT, 6, field_str(1, "seeds") + field_str(2, "hello, room"))
whisper = frame(WHISPER, 7, field_str(1, "fuzzer") + field_str(2, "psst"))
list_users = frame(LIST_USERS, 8, b"")
create_room = frame(CREATE_ROOM, 9, field_str(1, "seeds") + field_str(2, "a topic"))
join_room = frame(JOIN_ROOM, 10, field_str(1, "seeds") + field_varint(2, 1))
history = frame(HISTORY, 11, field_str(1, "seeds") + field_varint(3, 5))
leave_room = frame(LEAVE_ROOM, 12, field_str(1, "seeds"))
list_rooms = frame(LIST_ROOMS, 13, b"")
logout = frame(LOGOUT, 14, b"")

malformed = {
    "truncated-header": chat[:7],
    "truncated-body": chat[:-3],
    "bad-magic": b"GET / HTTP/1.1\r\nHost: sori\r\n\r\n",
    "bad-version": frame(PING, 1, b"", version=9),
    "oversize-length": frame(CHAT, 1, b"", body_len=16 * 1024 + 1),
    "unknown-type": frame(999, 1, b"\x08\x01") + ping,
    "malformed-body": frame(CHAT, 1, b"\x12\xff\xff\xff\xff\x0f") + ping,
    "server-to-client-type": frame(22, 1, b"") + ping,
    "control-chars": frame(CHAT, 1, field_str(2, "bell\x07and\x1b[2J")),
    "invalid-utf8": frame(CHAT, 1, b"\x12\x02\xc3\x28"),
}

DECODE = {
    "hello": hello,
    "register": register,
    "login": login,
    "ping": ping,
    "chat": chat,
    "whisper": whisper,
    "create-room": create_room,
    "history": history,
    "stream": hello + ping + list_users + chat,
    **malformed,
}

# (mode byte, bytes): 0x01 means a Login is sent first.
SERVER_STREAM = {
    "hello-register": (0, hello + register),
    "login-ping": (0, login + ping),
    "anonymous-chat": (0, chat),
    "lobby-chat": (1, chat + list_users),
    "whisper": (1, whisper),
    "rooms": (1, create_room + chat_room + join_room + history + list_rooms + leave_room),
    "logout": (1, logout + ping),
    **{name: (1, data) for name, data in malformed.items()},
}


def write(target: str, name: str, data: bytes) -> None:
    path = ROOT / target / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def main() -> None:
    for name, data in DECODE.items():
        write("decode", name, data)
    for name, (mode, data) in SERVER_STREAM.items():
        write("server_stream", name, bytes([mode]) + data)
    print(f"wrote {len(DECODE)} decode and {len(SERVER_STREAM)} server_stream seeds under {ROOT}")


if __name__ == "__main__":
    main()
