// Runs telegram-test-api's own TelegramServer (the npm package, not our sandbox) so that
// Ferrogram's Bot API client can be tested against an emulator we did not write
// (crates/telegram/tests/telegram_test_api.rs).
//
// Env: PORT (required) — the port to listen on, on 127.0.0.1.
//      EXIT_ON_STDIN_EOF=1 (optional) — also exit when stdin closes, so that the server dies
//      with the test process that spawned it even if that process is killed outright.
// Prints `READY <port>` on stdout once listening. Exits 0 on SIGTERM/SIGINT, 3 if the port is
// already taken (the caller may retry with another), 2 on a bad PORT, 1 on any other failure.

import TelegramServer from 'telegram-test-api';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`telegram_test_api_server: PORT must be a port number, not ${JSON.stringify(process.env.PORT)}`);
  process.exit(2);
}

const server = new TelegramServer({ port, host: '127.0.0.1' });
try {
  await server.start();
} catch (error) {
  console.error(`telegram_test_api_server: cannot listen on 127.0.0.1:${port}: ${error.message}`);
  process.exit(error.code === 'EADDRINUSE' ? 3 : 1);
}
console.log(`READY ${port}`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  // server.stop() waits for open keep-alive connections; do not let a client's pool hold us.
  setTimeout(() => process.exit(0), 2000).unref();
  await server.stop();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (process.env.EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}
