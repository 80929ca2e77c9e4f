"""Runs the Python client against a real sori-server.

The server binary comes from $SORI_SERVER, else target/release/sori-server,
else target/debug/sori-server (build it with `cargo build -p sori-server`).
It runs on a free loopback port with a temporary database and cheap password
hashing, and is stopped at the end. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sori_client
from sori_client import Client, ConnectionClosed, SoriError, pb

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TIMEOUT = 10.0  # seconds, for any single wait on the server
PASSWORD = "correct horse battery"


def server_binary() -> Path:
    if os.environ.get("SORI_SERVER"):
        return Path(os.environ["SORI_SERVER"])
    for profile in ("release", "debug"):
        path = REPO / "target" / profile / "sori-server"
        if path.exists():
            return path
    pytest.fail("no sori-server binary: set SORI_SERVER or run `cargo build -p sori-server`")


def free_port() -> int:
    # Bind to port 0 and read it back; racy in theory, fine on loopback.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(tmp: Path, *extra_args: str):
    """Start sori-server on a free loopback port; yield (host, port); stop it."""
    port = free_port()
    log_path = tmp / "server.log"
    cmd = [
        str(server_binary()),
        "--listen", f"127.0.0.1:{port}",
        "--ws-listen", "off",
        "--database", str(tmp / "sori.db"),
        "--hash-memory-kib", "64",
        "--hash-iterations", "1",
        "--status-interval", "0s",
        *extra_args,
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"sori-server exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"sori-server did not listen within 30 s:\n{log_path.read_text()}")
                time.sleep(0.05)
        yield ("127.0.0.1", port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if proc.returncode not in (0, -signal.SIGTERM):
            print(f"sori-server exited with {proc.returncode}:\n{log_path.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(host, port) of a sori-server shared by the tests of this module."""
    with running_server(tmp_path_factory.mktemp("sori")) as address:
        yield address


_names = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{os.getpid() % 10000}_{next(_names)}"


def logged_in(server, username: str) -> Client:
    client = Client(*server, timeout=TIMEOUT)
    client.register(username, PASSWORD)
    login_ok = client.login(username, PASSWORD)
    assert login_ok.user.username == username
    assert login_ok.rooms[0].name == ""  # the lobby first (§2.1)
    return client


# ---------------------------------------------------------------------------


def test_frame_encoding_matches_the_annotated_example():
    # docs/protocol.md §1.2: Chat { room: "", text: "hi" }, request id 0x01020304.
    frame = sori_client.encode_frame(pb.Chat(room="", text="hi"), 0x01020304)
    assert frame == bytes.fromhex("34 01 14 00 04 03 02 01 04 00 00 00 12 02 68 69")
    assert sori_client.decode_header(frame[:12]) == (20, 0x01020304, 4)
    # Ping (type 50), request id 7, nonce 1.
    assert sori_client.encode_frame(pb.Ping(nonce=1), 7) == bytes.fromhex(
        "34 01 32 00 07 00 00 00 02 00 00 00 08 01")
    # Kicked { code: SLOW_CONSUMER } push.
    kicked = pb.Kicked(code=pb.SLOW_CONSUMER)
    assert sori_client.encode_frame(kicked, 0) == bytes.fromhex(
        "34 01 3e 00 00 00 00 00 02 00 00 00 08 69")


def test_hello_and_ping(server):
    with Client(*server, timeout=TIMEOUT) as client:
        welcome = client.hello()
        assert welcome.protocol_version == 1
        assert welcome.max_frame_len == 16384
        assert welcome.max_text_len == 2000
        assert client.ping(nonce=42).nonce == 42


def test_room_chat_between_two_clients(server):
    alice_name, bob_name = unique("alice"), unique("bob")
    room = unique("py_room")
    with logged_in(server, alice_name) as alice, logged_in(server, bob_name) as bob:
        created = alice.create_room(room, topic="from Python")
        assert created.room.name == room
        assert created.role == pb.OWNER
        assert created.last_seq == 0

        joined = bob.join_room(room)
        assert joined.role == pb.MEMBER
        assert joined.room.member_count == 2
        alice.wait_for("MemberJoined", lambda m: m.room == room and m.user.username == bob_name)

        ack = alice.chat(room, "hello from alice")
        assert ack.room == room
        assert ack.seq == 1  # a new room's numbers start at 1 (§6.6)

        msg = bob.wait_for("ChatMessage", lambda m: m.room == room)
        assert msg.text == "hello from alice"
        assert msg.seq == ack.seq
        assert msg.timestamp_ms == ack.timestamp_ms
        assert getattr(msg, "from").username == alice_name

        # The other way, and the numbers go on.
        ack2 = bob.chat(room.upper(), "hi alice")  # room names in any letter case
        assert ack2.room == room and ack2.seq == 2
        msg2 = alice.wait_for("ChatMessage", lambda m: m.room == room)
        assert (msg2.seq, msg2.text) == (2, "hi alice")

        # A late joiner's history has both, oldest first.
        with logged_in(server, unique("carol")) as carol:
            history = carol.join_room(room).history
            assert [(m.seq, m.text) for m in history] == [(1, "hello from alice"), (2, "hi alice")]


def test_whisper(server):
    alice_name, bob_name = unique("alice"), unique("bob")
    with logged_in(server, alice_name) as alice, logged_in(server, bob_name) as bob:
        ack = alice.whisper(bob_name.upper(), "psst")  # usernames in any letter case
        assert ack.stored is False
        assert ack.timestamp_ms > 0
        msg = bob.wait_for("WhisperMessage")
        assert msg.text == "psst"
        assert getattr(msg, "from").username == alice_name
        assert msg.offline is False
        assert msg.timestamp_ms == ack.timestamp_ms

        with pytest.raises(SoriError) as err:
            alice.whisper(alice_name, "me")
        assert err.value.code_name == "WHISPER_TO_SELF"


def test_errors_are_answers(server):
    with Client(*server, timeout=TIMEOUT) as client:
        with pytest.raises(SoriError) as err:
            client.chat("", "not logged in")
        assert err.value.code == pb.NOT_AUTHENTICATED
        with pytest.raises(SoriError) as err:
            client.login(unique("nobody"), PASSWORD)
        assert err.value.code == pb.BAD_CREDENTIALS
        # An unknown type is skipped and answered with UNKNOWN_TYPE (§7).
        rid = client.new_request_id()
        client.send_raw(sori_client.HEADER.pack(0x34, 1, 9999, rid, 3) + b"abc")
        frame = client.recv()
        assert (frame.name, frame.request_id) == ("Error", rid)
        assert frame.message.code == pb.UNKNOWN_TYPE
        assert client.ping(nonce=5).nonce == 5  # still in step


def test_bad_magic_is_kicked(server):
    with Client(*server, timeout=TIMEOUT) as client:
        client.send_raw(bytes([0x35]))  # checked as soon as the first byte arrives (§1.1)
        frame = client.recv()
        assert frame.name == "Kicked"
        assert frame.request_id == 0
        assert frame.message.code == pb.BAD_MAGIC
        with pytest.raises(ConnectionClosed):
            client.recv()


def test_chat_cli(server):
    """chat.py registers, joins, prints what arrives and sends stdin lines."""
    user, peer_name, room = unique("cli"), unique("peer"), unique("cli_room")
    with logged_in(server, peer_name) as peer:
        peer.create_room(room)
        peer.chat(room, "before you came")
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "chat.py"), "--server", f"{server[0]}:{server[1]}",
             "--user", user, "--password", PASSWORD, "--room", room],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=HERE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            peer.wait_for("MemberJoined", lambda m: m.room == room and m.user.username == user)
            peer.chat(room, "hello cli")
            proc.stdin.write(b"hello peer\n")
            proc.stdin.flush()
            msg = peer.wait_for("ChatMessage", lambda m: m.room == room)
            assert (msg.text, getattr(msg, "from").username) == ("hello peer", user)
            # communicate() closes stdin: at the end of input the CLI logs out.
            out, err = proc.communicate(timeout=TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)
        out = out.decode()
        assert proc.returncode == 0, err.decode()
        assert f"* registered {user}" in out
        assert f"[#{room} 1] <{peer_name}> before you came" in out
        assert f"[#{room} 2] <{peer_name}> hello cli" in out
        peer.wait_for("UserLeft", lambda m: m.user.username == user)


def test_keepalive_pings_are_answered(tmp_path):
    """A client that only listens stays logged in: recv() answers the server's Pings (§3)."""
    with running_server(tmp_path, "--heartbeat-interval", "300ms", "--idle-timeout", "1s") as srv:
        with logged_in(srv, unique("quiet")) as client:
            with pytest.raises(TimeoutError):
                client.wait_for("ChatMessage", timeout=2.5)  # silent for 2.5 s > idle timeout
            assert client.ping(nonce=9).nonce == 9
