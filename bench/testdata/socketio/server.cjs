// The Socket.IO server that the protocol's test suite expects (its
// README's configuration and handlers), on a free port of 127.0.0.1,
// which it prints as "listening PORT". An auth token "refuse" is refused,
// so that a test sees a CONNECT_ERROR. Ends when its standard input does.
const http = require("node:http");
const { Server } = require("socket.io");

const httpServer = http.createServer();
const io = new Server(httpServer, {
  pingInterval: 300,
  pingTimeout: 200,
  maxPayload: 1000000,
  connectTimeout: 1000,
  cors: { origin: "*" },
});

io.use((socket, next) => {
  const auth = socket.handshake.auth;
  next(auth && auth.token === "refuse" ? new Error("Not authorized") : undefined);
});

io.on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth);
  socket.on("message", (...args) => {
    socket.emit("message-back", ...args);
  });
  socket.on("message-with-ack", (...args) => {
    const ack = args.pop();
    ack(...args);
  });
});

io.of("/custom").on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth);
});

httpServer.listen(0, "127.0.0.1", () => {
  console.log("listening " + httpServer.address().port);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
