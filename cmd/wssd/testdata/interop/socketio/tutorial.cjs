// tutorial.cjs: the client of Socket.IO's "get started" tutorial, as the
// tutorial writes it, with one change: the server's URL comes from the
// command line instead of being written in. The CA to trust is not in the
// code either: Node adds the one in NODE_EXTRA_CA_CERTS to its roots. The
// package is found where npm installed it through NODE_PATH.
//
//   NODE_PATH=../node/node_modules NODE_EXTRA_CA_CERTS=CA.pem node tutorial.cjs https://localhost:PORT
//
// The server answers the message "Hello, world!" with the message "Hello
// from the server!" (server.mjs --app tutorial). Exits 0 once that answer
// came, 1 on another answer, a connect error or after 20 s.
const { io } = require("socket.io-client");

const url = process.argv[2];
if (!url) {
  console.error("usage: NODE_PATH=../node/node_modules NODE_EXTRA_CA_CERTS=CA_FILE node tutorial.cjs https://HOST:PORT");
  process.exit(2);
}

const timer = setTimeout(() => {
  console.error("FAIL socket.io tutorial: no answer within 20 s");
  process.exit(1);
}, 20_000);

const socket = io(url);

socket.on("connect", () => {
  console.log(`connected: ${socket.id}`);
  socket.emit("message", "Hello, world!");
});

socket.on("message", (msg) => {
  console.log(`message: ${msg}`);
  if (msg !== "Hello from the server!") {
    console.error(`FAIL socket.io tutorial: the server said ${JSON.stringify(msg)}; want "Hello from the server!"`);
    process.exit(1);
  }
  clearTimeout(timer);
  socket.disconnect();
});

socket.on("connect_error", (err) => {
  console.error(`FAIL socket.io tutorial: connect_error: ${err.message} ${err.context?.statusText ?? err.description?.message ?? ""}`);
  process.exit(1);
});

socket.on("disconnect", (reason) => {
  console.log(`disconnected: ${reason}`);
});
