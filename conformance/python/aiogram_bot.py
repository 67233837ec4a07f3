"""Echo bot written with aiogram 3, pointed at the Ferrogram sandbox.

Environment: BOT_TOKEN, SANDBOX_URL (e.g. http://127.0.0.1:8081).
Prints READY once long polling starts; exits with status 0 on SIGTERM or SIGINT
(Dispatcher.start_polling handles both signals itself).
"""

import asyncio
import logging
import os

from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

dp = Dispatcher()


@dp.message(Command("menu"))
async def menu(message: Message) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Press", callback_data="pressed")]]
    )
    await message.answer("menu", reply_markup=keyboard)


@dp.message(F.text)
async def echo(message: Message) -> None:
    await message.answer(f"echo: {message.text}")


@dp.callback_query(F.data == "pressed")
async def pressed(callback: CallbackQuery) -> None:
    await callback.answer()
    await callback.message.edit_text(f"pressed by {callback.from_user.first_name}")


@dp.startup()
async def on_startup() -> None:
    print("READY", flush=True)


async def main() -> None:
    logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s", level=logging.INFO)
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["SANDBOX_URL"].rstrip("/")))
    bot = Bot(os.environ["BOT_TOKEN"], session=session)
    await dp.start_polling(bot)


if __name__ == "__main__":
    asyncio.run(main())
