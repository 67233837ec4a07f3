"""The bench's many-bots setup written with aiogram 3, as its docs' multibot example: one
Dispatcher and one aiohttp server, TokenBasedRequestHandler routing /webhook/{bot_token} to the
bot of that token (aiogram makes the Bot on its first update), every bot's webhook set with
set_webhook at start. Each bot is the echo bot.

Env: BOT_TOKEN (the first bot; the ids that follow are the others), BOTS, SANDBOX_URL,
WEBHOOK_LISTEN (host:port). Prints READY once every webhook is set.
"""

import asyncio
import logging
import os

from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import TokenBasedRequestHandler, setup_application
from aiohttp import web

dp = Dispatcher()


@dp.message(F.text)
async def echo(message: Message) -> None:
    await message.answer(f"echo: {message.text}")


async def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    first, secret = os.environ["BOT_TOKEN"].split(":", 1)
    count = int(os.environ.get("BOTS", "1"))
    listen = os.environ["WEBHOOK_LISTEN"]
    host, port = listen.rsplit(":", 1)
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["SANDBOX_URL"].rstrip("/")))
    app = web.Application()
    TokenBasedRequestHandler(dispatcher=dp, bot_settings={"session": session}).register(
        app, path="/webhook/{bot_token}"
    )
    setup_application(app, dp)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, int(port)).start()
    for bot_id in range(int(first), int(first) + count):
        token = f"{bot_id}:{secret}"
        await Bot(token, session=session).set_webhook(f"http://{listen}/webhook/{token}")
    print("READY", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
