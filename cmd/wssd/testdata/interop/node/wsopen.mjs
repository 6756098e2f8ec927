// wsopen.mjs: opens a `ws` client and queues the messages it receives, for
// the Node clients (echo.mjs, deflate.mjs).
import WebSocket from "ws";

// wsOpen opens a client on url with opts (a handshake timeout of 10 s unless
// opts says otherwise). Once it is open, it resolves with the client, next,
// which resolves with the next message received ({ data, isBinary }, in
// order), and answer, the response's Sec-WebSocket-Extensions ("" if none);
// if the handshake fails, it rejects with the error. After that, a socket
// error calls fail with the reason, and so does a close unless closing()
// says the close is the caller's own.
export function wsOpen(url, opts, fail, closing) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { handshakeTimeout: 10_000, ...opts });
    const messages = [];
    const waiters = [];
    let answer = "";
    ws.on("upgrade", (res) => {
      answer = res.headers["sec-websocket-extensions"] ?? "";
    });
    ws.on("message", (data, isBinary) => {
      const m = { data, isBinary };
      const w = waiters.shift();
      if (w) w(m);
      else messages.push(m);
    });
    ws.once("open", () => {
      ws.off("error", reject);
      ws.on("error", (err) => fail(`socket error: ${err.message}`));
      ws.on("close", (code, reason) => {
        if (!closing()) fail(`the connection closed: code ${code}, reason ${JSON.stringify(reason.toString())}`);
      });
      const next = () =>
        messages.length > 0 ? Promise.resolve(messages.shift()) : new Promise((r) => waiters.push(r));
      resolve({ ws, next, answer });
    });
    ws.once("error", reject);
  });
}
