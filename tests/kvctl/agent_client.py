"""A raw client of keyvault-agent's broker (agent/PROTOCOL.md) for
tests/kvctl/agent.sh: well-behaved requests, and the misbehaving clients
the agent must survive. Each subcommand prints one JSON line (or `ok`) and
exits 0 when the agent behaved as it must, else prints why and exits 1.

  python3 agent_client.py SOCKET request JSON          # prints the answer; with a handle, runs
                                                       #  $KV_RUN_WITH_FD (sh -c) with $KEYVAULT_FD
  python3 agent_client.py SOCKET exchange NAME PUBHEX  # the exchange check (see do_exchange)
  python3 agent_client.py SOCKET ATTACK ...            # see the functions below
"""
import json
import os
import socket
import subprocess
import sys
import threading
import time

SOCK = sys.argv[1]


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(SOCK)
    return s


def read_answer(s):
    """One answer line and the fds that came with it."""
    data, fds = b"", []
    while b"\n" not in data:
        msg, got, _flags, _addr = socket.recv_fds(s, 65536, 16)
        fds += got
        if not msg:
            break
        data += msg
    line = data.split(b"\n", 1)[0]
    return (json.loads(line) if line else None), fds


def ask(obj, raw=None):
    s = connect()
    s.sendall(raw if raw is not None else (json.dumps(obj) + "\n").encode())
    answer, fds = read_answer(s)
    return s, answer, fds


def die(why):
    print(why)
    sys.exit(1)


def do_request(text):
    s, answer, fds = ask(None, raw=text.encode() + b"\n")
    print(json.dumps(answer))
    if fds and os.environ.get("KV_RUN_WITH_FD"):
        env = dict(os.environ, KEYVAULT_FD=str(fds[0]))
        r = subprocess.run(["sh", "-c", os.environ["KV_RUN_WITH_FD"]], env=env, pass_fds=fds[:1])
        sys.exit(r.returncode)
    sys.exit(0 if answer and answer.get("ok") and fds else 1)


def do_exchange(name, pubhex, kvctl):
    """X25519 of a fresh key with the agent's key NAME (public key PUBHEX),
    HKDF-SHA256 into ChaCha20-Poly1305, done by the agent; this client then
    decrypts, with the handle it got, a KVE1 envelope it made with the key it
    computed itself (python's cryptography): proof that the derivation is
    exact. Then: the key decrypts once only (max uses 1), and once the
    connection is closed the agent has destroyed it."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    from cryptography.hazmat.primitives.hashes import SHA256
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.hazmat.primitives import serialization

    eph = X25519PrivateKey.generate()
    eph_pub = eph.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    shared = eph.exchange(X25519PublicKey.from_public_bytes(bytes.fromhex(pubhex)))
    salt, info = b"salt:" + eph_pub, b"keyvault agent test"
    key = HKDF(algorithm=SHA256(), length=32, salt=salt, info=info).derive(shared)
    nonce = os.urandom(12)
    ct = ChaCha20Poly1305(key).encrypt(nonce, b"agreed in the kernel", None)
    # KVE1: magic, KV_ALG_CHACHA20_POLY1305 (3), flags 0, nonce, tag, ciphertext.
    envelope = b"KVE1" + bytes([3, 0]) + nonce + ct[-16:] + ct[:-16]
    req = {"v": 1, "op": "exchange", "key": name, "peer": eph_pub.hex(), "salt": salt.hex(),
           "info": info.hex(), "hash": "sha256", "alg": "chacha20-poly1305"}
    s, answer, fds = ask(req)
    if not answer or not answer.get("ok") or len(fds) != 1:
        die(f"exchange refused: {answer}")
    derived = answer["keys"]["derived"]
    if answer["caps"] != ["decrypt", "getinfo"]:
        die(f"the handle has more than decrypt: {answer}")

    def decrypt():
        env = dict(os.environ, KEYVAULT_FD=str(fds[0]))
        return subprocess.run([kvctl, "decrypt", str(derived)], input=envelope,
                              capture_output=True, env=env, pass_fds=fds[:1])

    first = decrypt()
    if first.returncode != 0 or first.stdout != b"agreed in the kernel":
        die(f"the derived key did not decrypt: {first.returncode} {first.stderr!r}")
    second = decrypt()
    if second.returncode != 6:
        die(f"a second use was not refused as over quota: {second.returncode} {second.stderr!r}")
    s.close()  # the agent destroys the key now
    for _ in range(50):
        third = decrypt()
        if third.returncode == 5:
            break
        time.sleep(0.1)
    else:
        die(f"the derived key outlived the connection: {third.returncode} {third.stderr!r}")
    print("ok")


def hold(n, seconds, want):
    """n idle connections (the agent reads nothing from them until its io
    timeout); then one more, which must be told busy (want=busy) or
    nothing is tried (want=none); prints "holding" and holds them."""
    idle = [connect() for _ in range(int(n))]
    time.sleep(0.5)  # accepted
    if want == "busy":
        # Told at once, before it says anything.
        answer, _ = read_answer(connect())
        if not answer or answer.get("error", {}).get("kind") != "busy":
            die(f"one more connection was not told busy: {answer}")
    print("holding", flush=True)
    time.sleep(float(seconds))
    for c in idle:
        c.close()


def slow(timeout):
    """Half a request, then silence: the agent gives up after its io timeout,
    and serves others meanwhile."""
    s = connect()
    s.sendall(b'{"v":1,"op":')
    t0 = time.time()
    _, answer, _ = ask({"v": 1, "op": "list"})
    if not answer or not answer.get("ok") or time.time() - t0 > 1.5:
        die(f"another client was not served while one stalled: {answer}")
    answer, _ = read_answer(s)
    waited = time.time() - t0
    if not answer or "within" not in answer.get("error", {}).get("message", ""):
        die(f"the stalled client got: {answer}")
    if waited < float(timeout) - 0.5 or waited > float(timeout) + 3:
        die(f"dropped after {waited:.1f} s, io_timeout is {timeout} s")
    print("ok")


def trickle():
    """A request one byte at a time (partial writes) is a request."""
    s = connect()
    for b in b'{"v":1,"op":"list"}\n':
        s.sendall(bytes([b]))
        time.sleep(0.01)
    answer, _ = read_answer(s)
    if not answer or not answer.get("ok"):
        die(f"a trickled request was refused: {answer}")
    print("ok")


def huge():
    """10 MiB without a newline: refused as too long, the connection closed."""
    s = connect()
    try:
        s.sendall(b"x" * (10 << 20))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the agent stopped reading and closed: also right
    try:
        answer, _ = read_answer(s)
    except (ConnectionResetError, json.JSONDecodeError):
        answer = None
    if answer is not None and "longer than" not in answer.get("error", {}).get("message", ""):
        die(f"a huge request got: {answer}")
    print("ok")


def fd_flood(rounds):
    """Requests that carry 250 fds each (SCM_RIGHTS): the agent takes none."""
    devnull = [os.open("/dev/null", os.O_RDONLY) for _ in range(250)]
    for _ in range(int(rounds)):
        s = connect()
        socket.send_fds(s, [b'{"v":1,"op":"li'], devnull)
        socket.send_fds(s, [b'st"}\n'], devnull)
        answer, _ = read_answer(s)
        if not answer or not answer.get("ok"):
            die(f"a request with fds attached was refused: {answer}")
        s.close()
    print("ok")


def never_read(n):
    """n clients ask for a handle and never read the answer nor hang up."""
    held = []
    for _ in range(int(n)):
        s = connect()
        s.sendall(b'{"v":1,"op":"handle","keys":["gen-sign"],"caps":["verify"]}\n')
        held.append(s)
    time.sleep(1)
    _, answer, _ = ask({"v": 1, "op": "list"})
    if not answer or not answer.get("ok"):
        die(f"not served while {n} clients did not read: {answer}")
    for s in held:
        s.close()
    print("ok")


def concurrent(n, keys):
    """n clients at once, each asks for a handle: every one is granted."""
    results = []

    def one():
        try:
            _, answer, fds = ask({"v": 1, "op": "handle", "keys": keys.split(","), "caps": ["getinfo"]})
            results.append(bool(answer and answer.get("ok") and len(fds) == 1))
            for f in fds:
                os.close(f)
        except Exception as e:  # noqa: BLE001 (reported below)
            results.append(repr(e))

    threads = [threading.Thread(target=one) for _ in range(int(n))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bad = [r for r in results if r is not True]
    if bad:
        die(f"{len(bad)} of {n} concurrent clients were not granted: {bad[:3]}")
    print("ok")


cmd = sys.argv[2]
args = sys.argv[3:]
{"request": do_request, "exchange": do_exchange, "hold": hold, "slow": slow, "trickle": trickle,
 "huge": huge, "fd-flood": fd_flood, "never-read": never_read, "concurrent": concurrent}[cmd](*args)
