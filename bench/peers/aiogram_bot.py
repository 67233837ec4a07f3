"""The bench's echo and broadcast bot written with aiogram 3, in its documented setup:
Dispatcher.start_polling (long polling, each update handled as its own task).

Env: BOT_TOKEN, SANDBOX_URL, RATE (messages a second for the whole bot, default 30),
SUB_FIRST/SUB_COUNT (the chat ids /broadcast sends to). Prints READY once polling starts.
The broadcast is aiogram's documented recipe: a loop that sends, sleeps 1/RATE between
messages (the docs' `asyncio.sleep(.05)` for 20 a second, scaled like the sandbox's limits)
and waits out TelegramRetryAfter.
"""

import asyncio
import logging
import os

from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter
from aiogram.filters import Command
from aiogram.types import Message

RATE = float(os.environ.get("RATE", "30"))
FIRST = int(os.environ.get("SUB_FIRST", "0"))
COUNT = int(os.environ.get("SUB_COUNT", "0"))

dp = Dispatcher()


async def send(bot: Bot, chat_id: int, text: str) -> bool:
    while True:
        try:
            await bot.send_message(chat_id, text)
            return True
        except TelegramRetryAfter as e:
            await asyncio.sleep(e.retry_after)
        except Exception:  # noqa: BLE001 - a blocked user and the like: skip them
            return False


@dp.message(Command("broadcast"))
async def broadcast(message: Message, bot: Bot) -> None:
    for chat_id in range(FIRST, FIRST + COUNT):
        await send(bot, chat_id, "news")
        await asyncio.sleep(1 / RATE)


@dp.message(F.text)
async def echo(message: Message) -> None:
    await message.answer(f"echo: {message.text}")


@dp.startup()
async def on_startup() -> None:
    print("READY", flush=True)


async def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["SANDBOX_URL"].rstrip("/")))
    bot = Bot(os.environ["BOT_TOKEN"], session=session)
    await dp.start_polling(bot)


if __name__ == "__main__":
    asyncio.run(main())
