#!/usr/bin/python3
"""echo.py: checks a wssd /echo endpoint over wss:// with the Python
`websockets` client (Debian's python3-websockets, asyncio API), trusting only
the given CA.

    /usr/bin/python3 echo.py wss://localhost:PORT/echo DATA_DIR/dev-ca.pem

Exits 0 when every check passes, 1 with the failed check's name and reason
otherwise, and 1 after 20 s at the latest: it never hangs.
"""

import asyncio
import os
import ssl
import sys

import websockets

from wsecho import STEP, Failed, connect, expect, run

SIZES = [0, 125, 126, 65536, 1 << 20]

current = "start"
passed = 0


def ok(name):
    global passed
    passed += 1
    print(f"ok   {name}", flush=True)


def text(n):
    """A str of exactly n UTF-8 bytes, with multi-byte characters in it."""
    unit = "wssd é ✓ 🚀 "
    unit_len = len(unit.encode())
    s = unit * (n // unit_len)
    s += "x" * (n - len(s.encode()))
    assert len(s.encode()) == n
    return s


async def pong(waiter, payload):
    try:
        await asyncio.wait_for(waiter, STEP)
    except asyncio.TimeoutError:
        raise Failed(f"no pong with the payload {payload!r} within {STEP:.0f} s") from None


async def checks(url, ca_file):
    global current

    current = "untrusted without the CA"
    try:
        # The system's roots only: the dev CA is not among them.
        async with connect(url, ssl.create_default_context()):
            pass
    except ssl.SSLCertVerificationError:
        ok(current)
    else:
        raise Failed("the handshake succeeded without the dev CA")

    current = "connect trusting the CA"
    # PROTOCOL_TLS_CLIENT verifies the chain and the host name, and a new
    # context has no roots: it trusts only what is loaded here.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=ca_file)
    async with connect(url, ctx) as ws:
        ok(f"{current} ({url})")

        for n in SIZES:
            current = f"text {n} bytes"
            s = text(n)
            await ws.send(s)
            await expect(ws, s)
            ok(current)

            current = f"binary {n} bytes"
            b = os.urandom(n)
            await ws.send(b)
            await expect(ws, b)
            ok(current)

        current = "fragmented text (3 frames)"
        parts = ["frag", "mented ✓ ", text(70000)]
        await ws.send(parts)  # an iterable is sent as one fragmented message
        await expect(ws, "".join(parts))
        ok(current)

        current = "fragmented binary (3 frames, 200 KiB)"
        bparts = [os.urandom(1), os.urandom(70000), os.urandom(200 * 1024 - 70001)]
        await ws.send(bparts)
        await expect(ws, b"".join(bparts))
        ok(current)

        current = "ping -> pong with the same payload"
        payload = b"wssd interop ping"
        await pong(await ws.ping(payload), payload)
        ok(current)

        current = "ping of 125 bytes -> pong"
        payload = os.urandom(125)
        await pong(await ws.ping(payload), payload)
        ok(current)

        current = "ping between the fragments of a message"
        payload = b"between fragments"
        waiters = []

        async def halves():
            yield "first half, "
            waiters.append(await ws.ping(payload))
            yield "second half"

        await ws.send(halves())
        await pong(waiters[0], payload)
        await expect(ws, "first half, second half")
        ok(current)

        current = "close 4000 -> server echoes 4000"
        await ws.close(code=4000, reason="bye")
        if ws.close_code != 4000:
            raise Failed(f"close code {ws.close_code} (reason {ws.close_reason!r}); want 4000")
        ok(current)


def main():
    if len(sys.argv) != 3:
        print("usage: /usr/bin/python3 echo.py wss://HOST:PORT/echo CA_FILE", file=sys.stderr)
        return 2
    url, ca_file = sys.argv[1], sys.argv[2]
    if run("python echo", checks(url, ca_file), lambda: current):
        return 1
    print(f"python echo ({websockets.__name__} {websockets.__version__}): all {passed} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
