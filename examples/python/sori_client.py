"""A minimal Sori client, written from docs/protocol.md and proto/sori.proto.

Every frame is a 12-byte header followed by a protobuf body (docs/protocol.md
§1.1):

    offset 0  u8   magic 0x34
    offset 1  u8   version 1
    offset 2  u16  message type          (all integers little-endian)
    offset 4  u32  request id            (0 on server pushes)
    offset 8  u32  body length           (not counting the header)

The body types come from proto/sori.proto, compiled at run time with
grpcio-tools' protoc into build/sori_pb2.py (see load_pb2). Nothing generated
is committed.

This module is deliberately synchronous and single-threaded: one socket, one
receive buffer, and the caller decides when to read. `request()` sends a
request and reads until the answer with the same request id arrives, keeping
the pushes it meets on the way in `client.pushes` (§3: pushes can arrive
between a request and its answer).
"""

from __future__ import annotations

import collections
import importlib
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, NamedTuple, Optional

HERE = Path(__file__).resolve().parent
PROTO = HERE.parent.parent / "proto" / "sori.proto"
BUILD = Path(os.environ.get("SORI_PY_BUILD", HERE / "build"))

MAGIC = 0x34
VERSION = 1
HEADER = struct.Struct("<BBHII")  # magic, version, type, request id, body length
assert HEADER.size == 12

# Bodies the server may send can be larger than what it accepts (§6.7: at
# least 1 MiB; sori-client takes 4 MiB).
MAX_INCOMING_BODY = 4 * 1024 * 1024

# Message type numbers, from the table in docs/protocol.md §2. The name is the
# proto message's name, so the body class is getattr(sori_pb2, name).
TYPE_NAMES = {
    1: "Hello", 2: "Welcome",
    10: "Register", 11: "Login", 12: "LoginOk", 13: "SetDisplayName", 14: "Logout",
    20: "Chat", 21: "ChatAck", 22: "ChatMessage",
    30: "Whisper", 31: "WhisperAck", 32: "WhisperMessage",
    40: "ListUsers", 41: "UserList", 42: "UserJoined", 43: "UserLeft",
    50: "Ping", 51: "Pong",
    60: "Ok", 61: "Error", 62: "Kicked",
    70: "CreateRoom", 71: "JoinRoom", 72: "RoomJoined", 73: "LeaveRoom",
    74: "ListRooms", 75: "RoomList", 76: "ListMembers", 77: "MemberList",
    78: "History", 79: "HistoryPage", 80: "SetTopic", 81: "RoomUpdated",
    82: "Invite", 83: "Invited", 84: "KickMember", 86: "BanMember",
    87: "UnbanMember", 88: "SetRole", 89: "RoleChanged",
    90: "MemberJoined", 91: "MemberLeft", 92: "DeleteRoom", 93: "RoomDeleted",
    94: "ChangePassword", 95: "PasswordChanged",
    100: "AdminKick", 101: "AdminBan", 102: "AdminUnban", 103: "AdminMute",
    104: "AdminUnmute", 105: "AdminRevokeTokens",
}
TYPE_NUMBERS = {name: number for number, name in TYPE_NAMES.items()}


def load_pb2(build_dir: Path = BUILD):
    """Import sori_pb2, generating it from proto/sori.proto first if needed.

    Equivalent to: python -m grpc_tools.protoc -I proto --python_out=build proto/sori.proto
    """
    target = build_dir / "sori_pb2.py"
    if not target.exists() or target.stat().st_mtime < PROTO.stat().st_mtime:
        build_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO.parent}",
             f"--python_out={build_dir}", str(PROTO)],
            check=True,
        )
    if str(build_dir) not in sys.path:
        sys.path.insert(0, str(build_dir))
    return importlib.import_module("sori_pb2")


pb = load_pb2()


# ---------------------------------------------------------------------------
# Frames


class ProtocolError(Exception):
    """The stream can no longer be trusted (bad magic, version or length)."""


class ConnectionClosed(Exception):
    """The server closed the connection (at a frame boundary or in mid-frame)."""


class SoriError(Exception):
    """A request was answered with Error."""

    def __init__(self, error):
        self.code = error.code
        self.code_name = pb.ErrorCode.Name(error.code)
        self.message = error.message
        self.until_ms = error.until_ms
        super().__init__(f"{self.code_name}: {error.message}")


class KickedError(Exception):
    """The server sent Kicked while we waited: the session is over (§8)."""

    def __init__(self, kicked):
        self.code = kicked.code
        self.code_name = pb.ErrorCode.Name(kicked.code)
        self.message = kicked.message
        self.until_ms = kicked.until_ms
        super().__init__(f"kicked: {self.code_name}: {kicked.message}")


class Frame(NamedTuple):
    type: int
    request_id: int
    body: bytes
    message: object  # the decoded protobuf message, or None for an unknown type

    @property
    def name(self) -> str:
        return TYPE_NAMES.get(self.type, f"unknown({self.type})")


def encode_frame(message, request_id: int) -> bytes:
    """Header + body for a protobuf message; the type comes from its class name."""
    msg_type = TYPE_NUMBERS[type(message).DESCRIPTOR.name]
    body = message.SerializeToString()
    return HEADER.pack(MAGIC, VERSION, msg_type, request_id, len(body)) + body


def decode_header(header: bytes, max_body: int = MAX_INCOMING_BODY):
    """Check a 12-byte header in the order of §1.1 and return (type, request id, body length)."""
    magic, version, msg_type, request_id, body_len = HEADER.unpack(header)
    if magic != MAGIC:
        raise ProtocolError(f"bad magic 0x{magic:02x}")
    if version != VERSION:
        raise ProtocolError(f"unsupported version {version}")
    if body_len > max_body:
        raise ProtocolError(f"body of {body_len} bytes is over our limit")
    return msg_type, request_id, body_len


def decode_body(msg_type: int, body: bytes):
    """The protobuf message for a type, or None if we do not know the type (skip it)."""
    body_class = getattr(pb, TYPE_NAMES.get(msg_type, ""), None)
    if body_class is None:
        return None
    return body_class.FromString(body)


# ---------------------------------------------------------------------------
# The connection


class Client:
    def __init__(self, host: str = "127.0.0.1", port: int = 5252, timeout: float = 10.0):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        # Request/response protocol: do not let Nagle hold small frames back (§11).
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()
        self._next_id = 1
        self.pushes: collections.deque[Frame] = collections.deque()
        self.welcome = None
        self.login_ok = None

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- sending ------------------------------------------------------------

    def new_request_id(self) -> int:
        """Non-zero, counting up from 1 and skipping 0 when it wraps (§3)."""
        request_id = self._next_id
        self._next_id = self._next_id % 0xFFFFFFFF + 1
        return request_id

    def send(self, message, request_id: Optional[int] = None) -> int:
        """Send one frame in one write (§11) and return its request id."""
        if request_id is None:
            request_id = self.new_request_id()
        self.sock.sendall(encode_frame(message, request_id))
        return request_id

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    # -- receiving ----------------------------------------------------------

    def _take_frame(self) -> Optional[Frame]:
        """A whole frame from the buffer, or None if it does not hold one yet."""
        if len(self._buf) < HEADER.size:
            return None
        msg_type, request_id, body_len = decode_header(bytes(self._buf[: HEADER.size]))
        end = HEADER.size + body_len
        if len(self._buf) < end:
            return None
        body = bytes(self._buf[HEADER.size:end])
        del self._buf[:end]
        return Frame(msg_type, request_id, body, decode_body(msg_type, body))

    def _fill(self, timeout: float) -> None:
        """One read from the socket into the buffer (TCP is a byte stream)."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no frame from the server in time") from None
        if not chunk:
            where = "in mid-frame" if self._buf else "at a frame boundary"
            raise ConnectionClosed(f"the server closed the connection {where}")
        self._buf += chunk

    def recv(self, timeout: Optional[float] = None) -> Frame:
        """The next frame from the server. Keep-alive Pings are answered here (§3)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            frame = self._take_frame()
            if frame is None:
                self._fill(deadline - time.monotonic())
                continue
            if frame.type == TYPE_NUMBERS["Ping"] and frame.request_id == 0:
                self.send(pb.Pong(nonce=frame.message.nonce), request_id=0)
                continue
            return frame

    def read_available(self, timeout: Optional[float] = None) -> list[Frame]:
        """For select()-driven loops: one read, then every whole frame buffered."""
        self._fill(self.timeout if timeout is None else timeout)
        return self.take_buffered()

    def take_buffered(self) -> list[Frame]:
        """Every whole frame already in the buffer, without reading the socket.

        A select() loop calls this once before it starts waiting: request()
        may have read bytes past its answer, and select() cannot see those.
        """
        frames = []
        while True:
            frame = self._take_frame()
            if frame is None:
                return frames
            if frame.type == TYPE_NUMBERS["Ping"] and frame.request_id == 0:
                self.send(pb.Pong(nonce=frame.message.nonce), request_id=0)
                continue
            frames.append(frame)

    def request(self, message, timeout: Optional[float] = None):
        """Send a request and return its answer, matched by request id (§3).

        Pushes that arrive meanwhile are kept in self.pushes. An Error answer
        raises SoriError; a Kicked push raises KickedError.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        request_id = self.send(message)
        while True:
            frame = self.recv(deadline - time.monotonic())
            if frame.request_id == request_id:
                if frame.name == "Error":
                    raise SoriError(frame.message)
                return frame.message
            if frame.name == "Kicked":
                raise KickedError(frame.message)
            self.pushes.append(frame)

    def next_push(self, timeout: Optional[float] = None) -> Frame:
        """The oldest push kept by request(), else the next frame from the socket."""
        if self.pushes:
            return self.pushes.popleft()
        return self.recv(timeout)

    def wait_for(self, name: str, match: Callable[[object], bool] = lambda m: True,
                 timeout: Optional[float] = None):
        """Wait for a push of this type (and matching `match`); others are dropped."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            frame = self.next_push(deadline - time.monotonic())
            if frame.name == name and match(frame.message):
                return frame.message
            if frame.name == "Kicked" and name != "Kicked":
                raise KickedError(frame.message)

    # -- the requests -------------------------------------------------------

    def hello(self, client_name: str = "sori-python/0.1"):
        self.welcome = self.request(pb.Hello(protocol_version=1, client_name=client_name))
        return self.welcome

    def register(self, username: str, password: str, display_name: str = ""):
        return self.request(pb.Register(username=username, password=password,
                                        display_name=display_name))

    def login(self, username: str, password: str):
        self.login_ok = self.request(pb.Login(username=username, password=password))
        return self.login_ok

    def create_room(self, name: str, topic: str = "", invite_only: bool = False):
        return self.request(pb.CreateRoom(name=name, topic=topic, invite_only=invite_only))

    def join_room(self, name: str, since_seq: int = 0, history_limit: int = 0):
        return self.request(pb.JoinRoom(name=name, since_seq=since_seq,
                                        history_limit=history_limit))

    def chat(self, room: str, text: str):
        """Post to a room ("" is the lobby); returns the ChatAck (room, seq, timestamp_ms)."""
        return self.request(pb.Chat(room=room, text=text))

    def whisper(self, to_username: str, text: str):
        return self.request(pb.Whisper(to_username=to_username, text=text))

    def list_users(self):
        return self.request(pb.ListUsers())

    def ping(self, nonce: int = 1):
        return self.request(pb.Ping(nonce=nonce))

    def logout(self, timeout: Optional[float] = None):
        """Logout: Ok, then Kicked LOGGED_OUT and the server closes (§2)."""
        self.request(pb.Logout(), timeout)
        try:
            self.wait_for("Kicked", timeout=timeout)
        except (ConnectionClosed, TimeoutError):
            pass
