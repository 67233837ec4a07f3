// Echo bot written with telegraf 4, pointed at the Ferrogram sandbox.
// Environment: BOT_TOKEN, SANDBOX_URL (e.g. http://127.0.0.1:8081).
// Prints READY once long polling starts; exits with status 0 on SIGTERM or SIGINT.
import { Markup, Telegraf } from "telegraf";
import { message } from "telegraf/filters";

const bot = new Telegraf(process.env.BOT_TOKEN, {
  telegram: { apiRoot: process.env.SANDBOX_URL.replace(/\/+$/, "") },
});

bot.command("menu", (ctx) =>
  ctx.reply("menu", Markup.inlineKeyboard([Markup.button.callback("Press", "pressed")])),
);

bot.on(message("text"), (ctx) => ctx.reply(`echo: ${ctx.message.text}`));

bot.action("pressed", async (ctx) => {
  await ctx.answerCbQuery();
  await ctx.editMessageText(`pressed by ${ctx.from.first_name}`);
});

bot.catch((err) => console.error("handler failed:", err));

process.once("SIGTERM", () => bot.stop("SIGTERM"));
process.once("SIGINT", () => bot.stop("SIGINT"));

await bot.launch(() => console.log("READY"));
