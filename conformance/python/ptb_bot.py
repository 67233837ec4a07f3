"""Echo bot written with python-telegram-bot 22, pointed at the Ferrogram sandbox.

Environment: BOT_TOKEN, SANDBOX_URL (e.g. http://127.0.0.1:8081).
Prints READY once long polling has started; exits with status 0 on SIGTERM or SIGINT.
"""

import asyncio
import logging
import os
import signal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)


async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Press", callback_data="pressed")]])
    await update.message.reply_text("menu", reply_markup=keyboard)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.message.reply_text(f"echo: {update.message.text}")


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer()
    await query.edit_message_text(f"pressed by {query.from_user.first_name}")


async def main() -> None:
    logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s", level=logging.INFO)
    url = os.environ["SANDBOX_URL"].rstrip("/")
    application = (
        Application.builder()
        .token(os.environ["BOT_TOKEN"])
        .base_url(f"{url}/bot")
        .base_file_url(f"{url}/file/bot")
        .build()
    )
    application.add_handler(CommandHandler("menu", menu))
    application.add_handler(MessageHandler(filters.TEXT, echo))
    application.add_handler(CallbackQueryHandler(pressed, pattern="^pressed$"))

    # Application.run_polling() would do all of this, but offers no hook once polling has
    # started; this is PTB's documented manual lifecycle instead.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async with application:  # initialize() (getMe) ... shutdown()
        await application.start()
        await application.updater.start_polling()  # deleteWebhook, then getUpdates
        print("READY", flush=True)
        await stop.wait()
        await application.updater.stop()
        await application.stop()


if __name__ == "__main__":
    asyncio.run(main())
