// The bench's echo and broadcast bot written with grammY, in its production setup for load:
// @grammyjs/runner (concurrent long polling), the throttler transformer, and auto-retry for 429s.
// Env: BOT_TOKEN, SANDBOX_URL, RATE (messages a second for the whole bot, default 30),
// CHAT_RATE (a second per chat, default 1), SUB_FIRST/SUB_COUNT (the chat ids /broadcast sends
// to). Prints READY once the runner started.
import { Bot } from "grammy";
import { run } from "@grammyjs/runner";
import { apiThrottler } from "@grammyjs/transformer-throttler";
import { autoRetry } from "@grammyjs/auto-retry";

const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const rate = env("RATE", 30);
const chatRate = env("CHAT_RATE", 1);
const first = env("SUB_FIRST", 0);
const count = env("SUB_COUNT", 0);

const bot = new Bot(process.env.BOT_TOKEN, { client: { apiRoot: process.env.SANDBOX_URL } });
// The throttler's defaults are Telegram's limits; the bench scales them like the sandbox's.
bot.api.config.use(
  apiThrottler({
    global: { reservoir: rate, reservoirRefreshAmount: rate, reservoirRefreshInterval: 1000 },
    out: { maxConcurrent: 1, minTime: Math.floor(1000 / chatRate) },
  }),
);
bot.api.config.use(autoRetry());

bot.command("broadcast", async () => {
  const sends = [];
  for (let id = first; id < first + count; id++) sends.push(bot.api.sendMessage(id, "news"));
  await Promise.allSettled(sends);
});
bot.on("message:text", (ctx) => ctx.reply(`echo: ${ctx.message.text}`));
bot.catch((err) => console.error("grammY error:", err.message));

const runner = run(bot);
console.log("READY");
const stop = () => runner.isRunning() && runner.stop();
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
