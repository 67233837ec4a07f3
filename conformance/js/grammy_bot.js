// Echo bot written with grammY, pointed at the Ferrogram sandbox.
// Environment: BOT_TOKEN, SANDBOX_URL (e.g. http://127.0.0.1:8081).
// Prints READY once long polling starts; exits with status 0 on SIGTERM or SIGINT.
import { Bot, InlineKeyboard } from "grammy";

const bot = new Bot(process.env.BOT_TOKEN, {
  client: { apiRoot: process.env.SANDBOX_URL.replace(/\/+$/, "") },
});

bot.command("menu", (ctx) =>
  ctx.reply("menu", { reply_markup: new InlineKeyboard().text("Press", "pressed") }),
);

bot.on("message:text", (ctx) => ctx.reply(`echo: ${ctx.message.text}`));

bot.callbackQuery("pressed", async (ctx) => {
  await ctx.answerCallbackQuery();
  await ctx.editMessageText(`pressed by ${ctx.from.first_name}`);
});

bot.catch((err) => console.error("handler failed:", err.error));

process.once("SIGTERM", () => bot.stop());
process.once("SIGINT", () => bot.stop());

await bot.start({ onStart: () => console.log("READY") });
