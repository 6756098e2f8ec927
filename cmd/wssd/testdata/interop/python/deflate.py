#!/usr/bin/python3
"""deflate.py: checks permessage-deflate (RFC 7692) on a wssd /echo
endpoint over wss:// with the Python `websockets` client (Debian's
python3-websockets, asyncio API), trusting only the given CA.

    /usr/bin/python3 deflate.py wss://localhost:PORT/echo DATA_DIR/dev-ca.pem [--server-max-window-bits N]

By default the client offers what websockets offers by default
("permessage-deflate; client_max_window_bits") and compresses every message
it sends. With --server-max-window-bits N it offers that too
(ClientPerMessageDeflateFactory(server_max_window_bits=N)): zlib then
inflates the server's messages within a window of 2^N bytes, and fails
("invalid distance too far back") if the server refers farther back. The
large JSON messages repeat strings at distances of more than 1 KiB, so
that a server compressing with a larger window would be caught; the script
checks that first, with zlib.

It prints the offer ("offer: ..."), the answer ("extensions: ...") and,
last, a line "deflate: {JSON}" with what the server should count:
clientCompressed, the messages sent compressed; serverCompressible, the
echoes the server should send compressed (JSON of 256 bytes or more);
messages, all of them. Exits 0 when every check passes, 1 with the failed
check's name and reason otherwise, and 1 after 20 s at the latest: it
never hangs.
"""

import json
import os
import random
import ssl
import sys
import zlib

import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory, PerMessageDeflate

from wsecho import Failed, connect, describe, expect, recv, run

SERVER_THRESHOLD = 256  # wssd's default --deflate-threshold

current = "start"
passed = 0
counts = {"clientCompressed": 0, "serverCompressible": 0, "messages": 0}


def ok(name):
    global passed
    passed += 1
    print(f"ok   {name}", flush=True)


NAMES = ["Ada", "Grace", "Linus", "Barbara", "Ken", "Radia", "Edsger", "Frances"]
CITIES = ["Zürich", "São Paulo", "東京", "Kraków", "Reykjavík", "Αθήνα"]


def record(r, i, notes):
    return {
        "id": i,
        "name": r.choice(NAMES),
        "city": r.choice(CITIES),
        "score": round(r.random() * 1e4, 2),
        "active": r.random() < 0.5,
        "note": r.choice(notes),
    }


def words(r, n):
    """About n bytes of lowercase words, different for each r."""
    out = []
    size = 0
    while size < n:
        w = "".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(3, 9)))
        out.append(w)
        size += len(w) + 1
    return " ".join(out)


def json_text(n, seed, note_size=40):
    """A JSON text of exactly n UTF-8 bytes: records, each with one of four
    notes of note_size bytes, and a padding field that makes up the size.
    With notes of more than 1 KiB, every repeat of a note is farther back
    than a small window reaches."""
    r = random.Random(seed)
    notes = [words(r, note_size) for _ in range(4)]
    head = f'{{"type":"update","seq":{seed},"items":['
    tail = '],"pad":"'
    end = '"}'
    items = []
    size = len(head) + len(tail) + len(end)
    while True:
        item = json.dumps(record(r, len(items), notes), ensure_ascii=False, separators=(",", ":"))
        add = len(item.encode()) + (1 if items else 0)
        if size + add > n:
            break
        items.append(item)
        size += add
    s = head + ",".join(items) + tail + "-" * (n - size) + end
    assert len(s.encode()) == n, (n, len(s.encode()))
    json.loads(s)
    return s


def big(seed):
    """64 KiB of JSON whose notes are 1.2 KiB each."""
    return json_text(65536, seed, note_size=1200)


async def echo(ws, msg, compressible):
    """Sends msg and checks its echo."""
    await ws.send(msg)
    counts["messages"] += 1
    counts["clientCompressed"] += 1  # websockets compresses every message
    size = len(msg) if isinstance(msg, bytes) else len(msg.encode())
    if compressible and size >= SERVER_THRESHOLD:
        counts["serverCompressible"] += 1
    await expect(ws, msg)


def handshake(ws):
    """The request's and the response's headers and the extensions in use:
    attributes of the connection in websockets' legacy asyncio API (10.x,
    Debian bookworm's), of its request, response and protocol in the newer
    one."""
    if hasattr(ws, "request_headers"):
        return ws.request_headers, ws.response_headers, ws.extensions
    return ws.request.headers, ws.response.headers, ws.protocol.extensions


def check_data_reaches_back(bits):
    """The large messages would fail a window of 2^bits bytes if
    compressed with a full window: else the test would prove nothing."""
    data = big(1).encode()
    c = zlib.compressobj(wbits=-15)
    z = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    try:
        zlib.decompressobj(wbits=-bits).decompress(z)
    except zlib.error as e:
        if "too far back" not in str(e):
            raise Failed(f"zlib: {e}; want invalid distance too far back") from None
    else:
        raise Failed(f"a full window's DEFLATE of the test data inflates within 2^{bits} bytes: it cannot catch a server that ignores the bound")


async def checks(url, ca_file, server_bits):
    global current

    if server_bits:
        current = f"test data refers back more than 2^{server_bits} bytes"
        check_data_reaches_back(server_bits)
        ok(current)

    current = "connect"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=ca_file)
    kwargs = {}
    if server_bits:
        # What websockets offers by default, plus server_max_window_bits.
        kwargs["extensions"] = [
            ClientPerMessageDeflateFactory(server_max_window_bits=server_bits, compress_settings={"memLevel": 5})
        ]
    async with connect(url, ctx, **kwargs) as ws:
        ok(f"{current} ({url})")
        request, response, extensions = handshake(ws)
        print(f"offer: {request.get('Sec-WebSocket-Extensions', '')}", flush=True)
        print(f"extensions: {response.get('Sec-WebSocket-Extensions', '')}", flush=True)

        current = "permessage-deflate agreed"
        pmd = [e for e in extensions if isinstance(e, PerMessageDeflate)]
        if len(pmd) != 1:
            raise Failed(f"extensions in use: {extensions!r}; want one PerMessageDeflate")
        print(f"     {pmd[0]!r}", flush=True)
        if server_bits and pmd[0].remote_max_window_bits != server_bits:
            raise Failed(f"the server's window is {pmd[0].remote_max_window_bits} bits; want {server_bits}")
        ok(current)

        for n in [100, 300, 1024, 4096, 65536]:
            current = f"JSON text {n} bytes"
            await echo(ws, json_text(n, n), True)
            ok(current)

        for seed in range(1, 5):
            current = f"JSON text 64 KiB, notes of 1.2 KiB (seed {seed})"
            await echo(ws, big(seed), True)
            ok(current)

        current = "JSON as binary 64 KiB"
        await echo(ws, big(9).encode(), True)
        ok(current)

        current = "random binary 4096 bytes"
        await echo(ws, os.urandom(4096), False)
        ok(current)

        current = "fragmented JSON text (3 frames, 10 KiB)"
        s = json_text(10240, 7)
        await ws.send([s[:2000], s[2000:6000], s[6000:]])
        counts["messages"] += 1
        counts["clientCompressed"] += 1
        counts["serverCompressible"] += 1
        got = await recv(ws)
        if got != s:
            raise Failed(f"echo differs: got a {describe(got)}; want a {describe(s)}")
        ok(current)

        current = "close 1000"
        await ws.close(code=1000)
        if ws.close_code != 1000:
            raise Failed(f"close code {ws.close_code} (reason {ws.close_reason!r}); want 1000")
        ok(current)


def main():
    args = sys.argv[1:]
    server_bits = 0
    if "--server-max-window-bits" in args:
        i = args.index("--server-max-window-bits")
        server_bits = int(args[i + 1])
        del args[i : i + 2]
    if len(args) != 2:
        print(
            "usage: /usr/bin/python3 deflate.py wss://HOST:PORT/echo CA_FILE [--server-max-window-bits N]",
            file=sys.stderr,
        )
        return 2
    url, ca_file = args
    # An unexpected exception's causes, down to zlib's error if inflating
    # failed.
    if run("python deflate", checks(url, ca_file, server_bits), lambda: current, causes=5):
        return 1
    print(f"python deflate ({websockets.__name__} {websockets.__version__}): all {passed} checks passed")
    print(f"deflate: {json.dumps(counts, separators=(',', ':'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
