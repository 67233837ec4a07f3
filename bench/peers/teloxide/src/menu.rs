//! The stateful menu: three scenes walked with inline buttons, the third a form (name, age)
//! whose answers are written as a row of PostgreSQL; the dialogue's state lives in Redis.

use deadpool_postgres::{Manager, Pool};
use serde::{Deserialize, Serialize};
use teloxide::dispatching::dialogue::{self, serializer::Json, RedisStorage};
use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};
use teloxide::RequestError;

use crate::required;

type Storage = RedisStorage<Json>;
type MenuDialogue = Dialogue<State, Storage>;
type HandlerResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

#[derive(Clone, Default, Serialize, Deserialize)]
pub enum State {
    #[default]
    Idle,
    Menu,
    Second,
    Name,
    Age {
        name: String,
    },
}

/// Where the form's rows go.
#[derive(Clone)]
struct Db {
    pool: Pool,
    insert: String,
}

pub async fn run<R>(bot: R)
where
    R: Requester<Err = RequestError> + Clone + Send + Sync + 'static,
    R::GetUpdates: Send,
{
    let storage = Storage::open(&required("REDIS_URL"), Json).await.expect("Redis");
    let table = required("TABLE");
    let config: tokio_postgres::Config = required("DATABASE_URL").parse().expect("DATABASE_URL");
    let manager = Manager::new(config, tokio_postgres::NoTls);
    let pool = Pool::builder(manager).max_size(16).build().expect("pool");
    pool.get()
        .await
        .expect("PostgreSQL")
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (id BIGSERIAL PRIMARY KEY, user_id BIGINT NOT NULL, \
             name TEXT NOT NULL, age INTEGER NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        ))
        .await
        .expect("CREATE TABLE");
    let db = Db { pool, insert: format!("INSERT INTO {table} (user_id, name, age) VALUES ($1, $2, $3)") };
    println!("READY");
    Dispatcher::builder(bot, schema::<R>())
        .dependencies(dptree::deps![storage, db])
        .enable_ctrlc_handler()
        .build()
        .dispatch()
        .await;
}

fn schema<R>() -> UpdateHandler<Box<dyn std::error::Error + Send + Sync + 'static>>
where
    R: Requester<Err = RequestError> + Clone + Send + Sync + 'static,
{
    use dptree::case;
    let messages = Update::filter_message()
        .branch(dptree::filter(|msg: Message| msg.text() == Some("/start")).endpoint(start::<R>))
        .branch(case![State::Name].endpoint(name::<R>))
        .branch(case![State::Age { name }].endpoint(age::<R>));
    let presses = Update::filter_callback_query()
        .branch(case![State::Menu].endpoint(second::<R>))
        .branch(case![State::Second].endpoint(form::<R>));
    dialogue::enter::<Update, Storage, State, _>().branch(messages).branch(presses)
}

fn button(label: &str, data: &str) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([[InlineKeyboardButton::callback(label, data)]])
}

async fn start<R: Requester<Err = RequestError>>(bot: R, dialogue: MenuDialogue, msg: Message) -> HandlerResult {
    bot.send_message(msg.chat.id, "Menu").reply_markup(button("Next", "second")).await?;
    dialogue.update(State::Menu).await?;
    Ok(())
}

async fn second<R: Requester<Err = RequestError>>(bot: R, dialogue: MenuDialogue, q: CallbackQuery) -> HandlerResult {
    bot.answer_callback_query(q.id.clone()).await?;
    bot.send_message(dialogue.chat_id(), "Scene 2").reply_markup(button("Form", "form")).await?;
    dialogue.update(State::Second).await?;
    Ok(())
}

async fn form<R: Requester<Err = RequestError>>(bot: R, dialogue: MenuDialogue, q: CallbackQuery) -> HandlerResult {
    bot.answer_callback_query(q.id.clone()).await?;
    bot.send_message(dialogue.chat_id(), "Your name?").await?;
    dialogue.update(State::Name).await?;
    Ok(())
}

async fn name<R: Requester<Err = RequestError>>(bot: R, dialogue: MenuDialogue, msg: Message) -> HandlerResult {
    match msg.text().map(str::trim).filter(|t| !t.is_empty() && t.chars().count() <= 64) {
        Some(name) => {
            bot.send_message(msg.chat.id, "Your age?").await?;
            dialogue.update(State::Age { name: name.to_owned() }).await?;
        }
        None => {
            bot.send_message(msg.chat.id, "Your name?").await?;
        }
    }
    Ok(())
}

async fn age<R: Requester<Err = RequestError>>(
    bot: R,
    dialogue: MenuDialogue,
    name: String,
    msg: Message,
    db: Db,
) -> HandlerResult {
    let Some(age) = msg.text().and_then(|t| t.trim().parse::<i32>().ok()).filter(|a| (1..=150).contains(a)) else {
        bot.send_message(msg.chat.id, "Your age?").await?;
        return Ok(());
    };
    let user = msg.from.as_ref().map(|u| u.id.0 as i64).unwrap_or(msg.chat.id.0);
    db.pool.get().await?.execute(&db.insert, &[&user, &name, &age]).await?;
    dialogue.exit().await?;
    bot.send_message(msg.chat.id, format!("Saved: {name}, {age}.")).await?;
    Ok(())
}
