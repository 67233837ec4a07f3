"""Echo bot written with pyTelegramBotAPI (telebot) 4, pointed at the Ferrogram sandbox.

Environment: BOT_TOKEN, SANDBOX_URL (e.g. http://127.0.0.1:8081).
Prints READY as long polling starts; exits with status 0 on SIGTERM or SIGINT.
"""

import logging
import os
import signal

import telebot
from telebot import apihelper
from telebot.types import InlineKeyboardButton, InlineKeyboardMarkup

url = os.environ["SANDBOX_URL"].rstrip("/")
apihelper.API_URL = url + "/bot{0}/{1}"
apihelper.FILE_URL = url + "/file/bot{0}/{1}"

telebot.logger.setLevel(logging.INFO)
bot = telebot.TeleBot(os.environ["BOT_TOKEN"])


@bot.message_handler(commands=["menu"])
def menu(message):
    keyboard = InlineKeyboardMarkup()
    keyboard.add(InlineKeyboardButton("Press", callback_data="pressed"))
    bot.send_message(message.chat.id, "menu", reply_markup=keyboard)


@bot.message_handler(content_types=["text"])
def echo(message):
    bot.send_message(message.chat.id, f"echo: {message.text}")


@bot.callback_query_handler(func=lambda call: call.data == "pressed")
def pressed(call):
    bot.answer_callback_query(call.id)
    bot.edit_message_text(
        f"pressed by {call.from_user.first_name}",
        chat_id=call.message.chat.id,
        message_id=call.message.message_id,
    )


if __name__ == "__main__":
    # telebot stops polling cleanly on KeyboardInterrupt: treat SIGTERM like Ctrl+C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print("READY", flush=True)
    try:
        bot.infinity_polling()
    except KeyboardInterrupt:
        pass
