"""The bench's stateful menu written with aiogram 3: three scenes walked with inline buttons,
the third a form (name, age) whose answers are written as a row of PostgreSQL. The FSM state
and data live in Redis (aiogram's RedisStorage); the row goes through an asyncpg pool.
Dispatcher.start_polling, as the echo bot.

Env: BOT_TOKEN, SANDBOX_URL, REDIS_URL, DATABASE_URL, TABLE. Prints READY once polling starts.
"""

import asyncio
import logging
import os

import asyncpg
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

TABLE = os.environ["TABLE"]
router = Router()


class Walk(StatesGroup):
    menu = State()
    second = State()
    name = State()
    age = State()


def button(text: str, data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=text, callback_data=data)]])


@router.message(CommandStart())
async def start(message: Message, state: FSMContext) -> None:
    await state.set_state(Walk.menu)
    await message.answer("Menu", reply_markup=button("Next", "second"))


@router.callback_query(Walk.menu, F.data == "second")
async def second(query: CallbackQuery, state: FSMContext) -> None:
    await query.answer()
    await state.set_state(Walk.second)
    await query.message.answer("Scene 2", reply_markup=button("Form", "form"))


@router.callback_query(Walk.second, F.data == "form")
async def form(query: CallbackQuery, state: FSMContext) -> None:
    await query.answer()
    await state.set_state(Walk.name)
    await query.message.answer("Your name?")


@router.message(Walk.name, F.text)
async def name(message: Message, state: FSMContext) -> None:
    text = message.text.strip()
    if not text or len(text) > 64:
        await message.answer("Your name?")
        return
    await state.update_data(name=text)
    await state.set_state(Walk.age)
    await message.answer("Your age?")


@router.message(Walk.age, F.text)
async def age(message: Message, state: FSMContext, pool: asyncpg.Pool) -> None:
    text = message.text.strip()
    if not text.isdigit() or not 1 <= int(text) <= 150:
        await message.answer("Your age?")
        return
    data = await state.get_data()
    await pool.execute(
        f"INSERT INTO {TABLE} (user_id, name, age) VALUES ($1, $2, $3)",
        message.from_user.id,
        data["name"],
        int(text),
    )
    await state.clear()
    await message.answer(f"Saved: {data['name']}, {int(text)}.")


async def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1, max_size=16)
    await pool.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} (id BIGSERIAL PRIMARY KEY, user_id BIGINT NOT NULL, "
        "name TEXT NOT NULL, age INTEGER NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    dp = Dispatcher(storage=RedisStorage.from_url(os.environ["REDIS_URL"]))
    dp.include_router(router)
    dp.startup.register(lambda: print("READY", flush=True))
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["SANDBOX_URL"].rstrip("/")))
    bot = Bot(os.environ["BOT_TOKEN"], session=session)
    await dp.start_polling(bot, pool=pool)


if __name__ == "__main__":
    asyncio.run(main())
