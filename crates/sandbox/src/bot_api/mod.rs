//! The bot side: `/bot<token>/<method>` calls, dispatched to their handlers.

mod chats;
mod media;
pub use media::user_media;
mod messages;
pub(crate) mod text;
pub mod updates;

use crate::App;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::spec::Spec;
use crate::world::State;
use serde_json::Value;
use std::sync::Arc;

/// Runs one Bot API call for the bot that `token` names.
pub async fn call(app: &Arc<App>, token: &str, method: &str, params: Params) -> ApiResult<Value> {
    call_and_fault(app, token, method, params).await.0
}

/// [`call`], also saying whether an injected `drop_answer` fault wants the connection dropped
/// instead of answered (the call was carried out all the same).
pub async fn call_and_fault(app: &Arc<App>, token: &str, method: &str, params: Params) -> (ApiResult<Value>, bool) {
    let mut drop_answer = false;
    let result = run(app, token, method, params, &mut drop_answer).await;
    (result, drop_answer)
}

async fn run(
    app: &Arc<App>,
    token: &str,
    method: &str,
    mut params: Params,
    drop_answer: &mut bool,
) -> ApiResult<Value> {
    // The official server checks the token before it looks at the method.
    let bot_id = app.world.with_changes(|s| {
        let known = s.bots.len();
        let bot = s.bot_for_token(token);
        (bot, s.bots.len() != known) // a token's first use creates its bot
    })?;
    let method = Spec::get().method(method).ok_or_else(ApiError::method_not_found)?;
    let name = method.name.as_str();
    let fault = app.world.with_changes(|s| {
        // Polls past their close_date close before the bot can see them.
        let closed = s.close_due_polls();
        (s.bots.get_mut(&bot_id).and_then(|bot| bot.runtime.faults.take(name)), closed)
    });
    if let Some(fault) = fault {
        if let Some(delay) = fault.delay {
            tokio::time::sleep(delay).await;
        }
        if let Some(error) = fault.error {
            return Err(error);
        }
        *drop_answer = fault.drop_answer;
    }
    match name {
        "getUpdates" => updates::get_updates(app, bot_id, &params).await,
        "setWebhook" => updates::set_webhook(app, bot_id, &params),
        "deleteWebhook" => updates::delete_webhook(app, bot_id, &params),
        _ => {
            media::fetch_remote_files(app, bot_id, &mut params).await?;
            app.world.with_changes(|s| {
                let result = dispatch(s, bot_id, name, &params);
                let changed = result.is_ok() && !READS.contains(&name);
                (result, changed)
            })
        }
    }
}

/// Methods that only read the world: a bot calling them gives the state file nothing to save
/// (a refused call changes nothing either).
const READS: [&str; 7] = [
    "getMe",
    "getWebhookInfo",
    "getChat",
    "getChatMember",
    "getChatMemberCount",
    "getChatAdministrators",
    "getMyCommands",
];

/// The calls answered at once, under the world's lock.
fn dispatch(s: &mut State, bot_id: i64, name: &str, p: &Params) -> ApiResult<Value> {
    match name {
        "getMe" => chats::get_me(s, bot_id),
        "logOut" | "close" => Ok(Value::Bool(true)),
        "getWebhookInfo" => updates::webhook_info(s, bot_id),
        "sendMessage" => messages::send_message(s, bot_id, p),
        "forwardMessage" => messages::forward_message(s, bot_id, p),
        "copyMessage" => messages::copy_message(s, bot_id, p),
        "sendPhoto" | "sendDocument" | "sendAudio" | "sendVideo" | "sendVoice" | "sendAnimation" | "sendVideoNote"
        | "sendSticker" => media::send_file(s, bot_id, name, p),
        "sendMediaGroup" => media::send_media_group(s, bot_id, p),
        "sendLocation" => messages::send_location(s, bot_id, p),
        "sendVenue" => messages::send_venue(s, bot_id, p),
        "sendContact" => messages::send_contact(s, bot_id, p),
        "sendPoll" => messages::send_poll(s, bot_id, p),
        "stopPoll" => messages::stop_poll(s, bot_id, p),
        "sendDice" => messages::send_dice(s, bot_id, p),
        "sendChatAction" => chats::send_chat_action(s, bot_id, p),
        "editMessageText" => messages::edit_text(s, bot_id, p),
        "editMessageCaption" => messages::edit_caption(s, bot_id, p),
        "editMessageReplyMarkup" => messages::edit_reply_markup(s, bot_id, p),
        "deleteMessage" => messages::delete_message(s, bot_id, p),
        "deleteMessages" => messages::delete_messages(s, bot_id, p),
        "getFile" => media::get_file(s, p),
        "answerCallbackQuery" => chats::answer_callback_query(s, bot_id, p),
        "answerInlineQuery" => chats::answer_inline_query(s, bot_id, p),
        "setMyCommands" => chats::set_my_commands(s, bot_id, p),
        "getMyCommands" => chats::get_my_commands(s, bot_id, p),
        "deleteMyCommands" => chats::delete_my_commands(s, bot_id, p),
        "getChat" => chats::get_chat(s, bot_id, p),
        "getChatMember" => chats::get_chat_member(s, bot_id, p),
        "getChatMemberCount" => chats::get_chat_member_count(s, bot_id, p),
        "getChatAdministrators" => chats::get_chat_administrators(s, bot_id, p),
        "leaveChat" => chats::leave_chat(s, bot_id, p),
        "pinChatMessage" => chats::pin_chat_message(s, bot_id, p),
        "unpinChatMessage" => chats::unpin_chat_message(s, bot_id, p),
        "unpinAllChatMessages" => chats::unpin_all_chat_messages(s, bot_id, p),
        other => Err(ApiError::bad_request(format!("method is not supported by the sandbox: {other}"))),
    }
}
