// The bench's many-bots setup written with grammY: BOTS `Bot` instances (each the echo bot,
// `bot.init()` then `setWebhook`), one node http server routing /webhook/<id> to the bot's
// `webhookCallback(bot, "http")`, as grammY's docs do for several bots on one server.
// Env: BOT_TOKEN (the first bot; the ids that follow are the others), BOTS, SANDBOX_URL,
// WEBHOOK_LISTEN (host:port). Prints READY once every webhook is set.
import http from "node:http";
import { Bot, webhookCallback } from "grammy";

const [first, secret] = process.env.BOT_TOKEN.split(":");
const count = Number(process.env.BOTS ?? 1);
const listen = process.env.WEBHOOK_LISTEN;
const [host, port] = [listen.slice(0, listen.lastIndexOf(":")), Number(listen.slice(listen.lastIndexOf(":") + 1))];

const routes = new Map();
const server = http.createServer((req, res) => {
  const handle = routes.get(req.url);
  if (handle) return handle(req, res);
  res.writeHead(404).end();
});
await new Promise((resolve) => server.listen(port, host, resolve));

for (let id = Number(first); id < Number(first) + count; id++) {
  const bot = new Bot(`${id}:${secret}`, { client: { apiRoot: process.env.SANDBOX_URL } });
  bot.on("message:text", (ctx) => ctx.reply(`echo: ${ctx.message.text}`));
  bot.catch((err) => console.error("grammY error:", err.message));
  await bot.init();
  const path = `/webhook/${id}`;
  routes.set(path, webhookCallback(bot, "http"));
  await bot.api.setWebhook(`http://${listen}${path}`);
}
console.log("READY");
const stop = () => server.close(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
