// The bench's stateful menu written with grammY: three scenes walked with inline buttons, the
// third a form (name, age) whose answers are written as a row of PostgreSQL (`pg` pool). The
// scene and the form's answers are the chat's session, kept in Redis (@grammyjs/storage-redis
// on ioredis); @grammyjs/runner with `sequentialize` so a chat's updates see each other's
// session, as grammY's docs require for sessions under the runner. Same throttler and
// auto-retry as the echo bot.
// Env: BOT_TOKEN, SANDBOX_URL, RATE, CHAT_RATE, REDIS_URL, DATABASE_URL, TABLE. Prints READY
// once the runner started.
import { Bot, InlineKeyboard, session } from "grammy";
import { run, sequentialize } from "@grammyjs/runner";
import { apiThrottler } from "@grammyjs/transformer-throttler";
import { autoRetry } from "@grammyjs/auto-retry";
import { RedisAdapter } from "@grammyjs/storage-redis";
import { Redis } from "ioredis";
import pg from "pg";

const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const rate = env("RATE", 30);
const chatRate = env("CHAT_RATE", 1);
const table = process.env.TABLE;

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 16 });
await pool.query(
  `CREATE TABLE IF NOT EXISTS ${table} (id BIGSERIAL PRIMARY KEY, user_id BIGINT NOT NULL, ` +
    `name TEXT NOT NULL, age INTEGER NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
);
const redis = new Redis(process.env.REDIS_URL);

const bot = new Bot(process.env.BOT_TOKEN, { client: { apiRoot: process.env.SANDBOX_URL } });
bot.api.config.use(
  apiThrottler({
    global: { reservoir: rate, reservoirRefreshAmount: rate, reservoirRefreshInterval: 1000 },
    out: { maxConcurrent: 1, minTime: Math.floor(1000 / chatRate) },
  }),
);
bot.api.config.use(autoRetry());
bot.use(sequentialize((ctx) => ctx.chat?.id.toString()));
bot.use(
  session({
    initial: () => ({ scene: "idle" }),
    prefix: "grammy-bench-menu:",
    storage: new RedisAdapter({ instance: redis }),
  }),
);

bot.command("start", async (ctx) => {
  ctx.session = { scene: "menu" };
  await ctx.reply("Menu", { reply_markup: new InlineKeyboard().text("Next", "second") });
});
bot.callbackQuery("second", async (ctx) => {
  await ctx.answerCallbackQuery();
  if (ctx.session.scene !== "menu") return;
  ctx.session.scene = "second";
  await ctx.reply("Scene 2", { reply_markup: new InlineKeyboard().text("Form", "form") });
});
bot.callbackQuery("form", async (ctx) => {
  await ctx.answerCallbackQuery();
  if (ctx.session.scene !== "second") return;
  ctx.session.scene = "name";
  await ctx.reply("Your name?");
});
bot.on("message:text", async (ctx) => {
  const text = ctx.message.text.trim();
  if (ctx.session.scene === "name") {
    if (!text || [...text].length > 64) return ctx.reply("Your name?");
    ctx.session = { scene: "age", name: text };
    await ctx.reply("Your age?");
  } else if (ctx.session.scene === "age") {
    const age = Number(text);
    if (!/^\d+$/.test(text) || age < 1 || age > 150) return ctx.reply("Your age?");
    const name = ctx.session.name;
    await pool.query(`INSERT INTO ${table} (user_id, name, age) VALUES ($1, $2, $3)`, [ctx.from.id, name, age]);
    ctx.session = { scene: "idle" };
    await ctx.reply(`Saved: ${name}, ${age}.`);
  }
});
bot.catch((err) => console.error("grammY error:", err.message));

const runner = run(bot);
console.log("READY");
const stop = async () => {
  if (runner.isRunning()) await runner.stop();
  await pool.end();
  redis.disconnect();
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
