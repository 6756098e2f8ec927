"""wsecho.py: what the Python clients (echo.py, deflate.py) share: a
`websockets` connection for a wssd /echo endpoint, reading and checking its
echoes, each within STEP seconds, and running the checks within TIMEOUT
seconds. The clients import it from their own directory, which Python puts
first on sys.path.
"""

import asyncio
import sys

import websockets

TIMEOUT = 20.0
STEP = 10.0


class Failed(Exception):
    pass


def run(client, checks, current, causes=1):
    """Runs the coroutine checks within TIMEOUT seconds. Returns 0 when it
    passes, and 1, after "FAIL client: check: reason" on stderr, when it
    fails; current() names the check under way. The reason for an
    unexpected exception names it and up to causes - 1 of its causes."""
    try:
        asyncio.run(asyncio.wait_for(checks, TIMEOUT))
    except asyncio.TimeoutError:
        reason = f"timed out after {TIMEOUT:.0f} s"
    except Failed as e:
        reason = f"{e}"
    except Exception as e:  # a refused handshake, a failed inflate, a dropped connection...
        chain = []
        while e is not None and len(chain) < causes:
            chain.append(f"{type(e).__name__}: {e}")
            e = e.__cause__ or e.__context__
        reason = " <- ".join(chain)
    else:
        return 0
    print(f"FAIL {client}: {current()}: {reason}", file=sys.stderr)
    return 1


def describe(m):
    kind = "binary" if isinstance(m, bytes) else "text"
    size = len(m) if isinstance(m, bytes) else len(m.encode())
    return f"{kind} message of {size} bytes"


async def recv(ws):
    try:
        return await asyncio.wait_for(ws.recv(), STEP)
    except asyncio.TimeoutError:
        raise Failed(f"no message within {STEP:.0f} s") from None


async def expect(ws, want):
    """Reads the next message and checks that it is want, of want's type."""
    got = await recv(ws)
    if type(got) is not type(want):
        raise Failed(f"got a {describe(got)}; want a {describe(want)}")
    if got != want:
        raise Failed(f"echo differs: got a {describe(got)}; want a {describe(want)}")


def connect(url, ctx, **kwargs):
    """Connects to url with the TLS context ctx and kwargs. No keepalive
    pings of its own, so that every ping is the caller's; no limit below the
    server's 1 MiB messages."""
    return websockets.connect(
        url,
        ssl=ctx,
        open_timeout=STEP,
        close_timeout=STEP,
        ping_interval=None,
        max_size=None,
        **kwargs,
    )
