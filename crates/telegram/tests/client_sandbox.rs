//! Every client method against the sandbox, checked from the user's side.

mod common;

use common::{BOT_ID, BOT_USERNAME, DOT_PNG, World, keyboard, text};
use ferrogram_telegram::{Backoff, Client, Error, IncomingUpdate, Upload};
use frankenstein::inline_mode::{InlineQueryResult, InlineQueryResultArticle, InputTextMessageContent};
use frankenstein::input_media::{InputMediaPhoto, MediaGroupInputMedia};
use frankenstein::methods::{
    AnswerCallbackQueryParams, AnswerInlineQueryParams, CopyMessageParams, DeleteMessageParams, DeleteWebhookParams,
    EditMessageReplyMarkupParams, EditMessageTextParams, ForwardMessageParams, GetChatMemberParams, GetChatParams,
    GetFileParams, GetUpdatesParams, PinChatMessageParams, SendChatActionParams, SendDiceParams, SendDocumentParams,
    SendLocationParams, SendMediaGroupParams, SendMessageParams, SendPhotoParams, SendPollParams, SetMyCommandsParams,
    SetWebhookParams, StopPollParams,
};
use frankenstein::response::MessageOrBool;
use frankenstein::types::{BotCommand, ChatAction, ChatMember, ChatType, InputPollOption, ReplyMarkup};
use frankenstein::updates::UpdateContent;
use serde_json::{Value, json};

/// Polls until the update with `update_id` arrives, confirming nothing.
async fn update(world: &World, update_id: i64) -> IncomingUpdate {
    let params = GetUpdatesParams::builder().timeout(5).build();
    let updates = world.client.get_updates(&params).await.expect("getUpdates");
    updates.into_iter().find(|u| u.update_id() == update_id).unwrap_or_else(|| panic!("update {update_id} missing"))
}

fn update_id(act: &Value) -> i64 {
    act["update_id"].as_i64().expect("update_id in the act answer")
}

#[tokio::test]
async fn get_me_describes_the_bot() {
    let world = World::start().await;
    let me = world.client.get_me().await.expect("getMe");
    assert_eq!(me.id, BOT_ID as u64);
    assert!(me.is_bot);
    assert_eq!(me.username.as_deref(), Some(BOT_USERNAME));
    assert_eq!(me.first_name, "Ferro");
}

#[tokio::test]
async fn send_message_reaches_the_user() {
    let world = World::start().await;
    let ann = world.user("Ann").await;
    let after = world.last_seq().await;
    let sent = world.client.send_message(&text(ann, "hello Ann")).await.expect("sendMessage");
    assert_eq!(sent.text.as_deref(), Some("hello Ann"));
    assert_eq!(sent.chat.id, ann);
    let event = world.next_event(ann, after, "sent").await;
    assert_eq!(event["message"]["text"], "hello Ann");
    assert_eq!(event["message"]["message_id"], sent.message_id);
    assert_eq!(world.bot_texts(ann).await, ["hello Ann"]);
}

#[tokio::test]
async fn edits_are_seen_by_the_user() {
    let world = World::start().await;
    let ann = world.user("Ann").await;
    let params = SendMessageParams::builder()
        .chat_id(ann)
        .text("draft")
        .reply_markup(ReplyMarkup::InlineKeyboardMarkup(keyboard("A", "a")))
        .build();
    let sent = world.client.send_message(&params).await.expect("sendMessage");
    let after = world.last_seq().await;

    let edit = EditMessageTextParams::builder().chat_id(ann).message_id(sent.message_id).text("final").build();
    match world.client.edit_message_text(&edit).await.expect("editMessageText") {
        MessageOrBool::Message(m) => assert_eq!(m.text.as_deref(), Some("final")),
        MessageOrBool::Bool(b) => panic!("expected the edited message, got {b}"),
    }
    let event = world.next_event(ann, after, "edited").await;
    assert_eq!(event["message"]["text"], "final");
    let after = event["seq"].as_i64().expect("seq");

    let markup = EditMessageReplyMarkupParams::builder()
        .chat_id(ann)
        .message_id(sent.message_id)
        .reply_markup(keyboard("B", "b"))
        .build();
    match world.client.edit_message_reply_markup(&markup).await.expect("editMessageReplyMarkup") {
        MessageOrBool::Message(m) => {
            let keyboard = m.reply_markup.expect("markup kept");
            assert_eq!(keyboard.inline_keyboard[0][0].callback_data.as_deref(), Some("b"));
        }
        MessageOrBool::Bool(b) => panic!("expected the edited message, got {b}"),
    }
    let event = world.next_event(ann, after, "edited").await;
    assert_eq!(event["message"]["reply_markup"]["inline_keyboard"][0][0]["text"], "B");
}

#[tokio::test]
async fn delete_message_removes_it() {
    let world = World::start().await;
    let ann = world.user("Ann").await;
    let sent = world.client.send_message(&text(ann, "oops")).await.expect("sendMessage");
    let after = world.last_seq().await;
    let params = DeleteMessageParams::builder().chat_id(ann).message_id(sent.message_id).build();
    assert!(world.client.delete_message(&params).await.expect("deleteMessage"));
    let event = world.next_event(ann, after, "deleted").await;
    assert_eq!(event["message_id"], sent.message_id);
    let history = world.history(ann).await;
    let entry = history.iter().find(|m| m["message"]["message_id"] == sent.message_id).expect("still in history");
    assert_eq!(entry["deleted"], true);
    // Deleting it again is a client error, reported and not retried.
    let again = world.client.delete_message(&params).await.expect_err("already deleted");
    assert_eq!(again.code(), Some(400));
    assert!(!again.is_retryable());
}

#[tokio::test]
async fn callback_queries_are_answered() {
    let world = World::start().await;
    let ann = world.user("Ann").await;
    let params = SendMessageParams::builder()
        .chat_id(ann)
        .text("Agree?")
        .reply_markup(ReplyMarkup::InlineKeyboardMarkup(keyboard("Yes", "yes")))
        .build();
    let sent = world.client.send_message(&params).await.expect("sendMessage");
    let press = world.act("callback", ann, json!({"message_id": sent.message_id, "data": "yes"})).await;
    let query_id = press["callback_query"]["id"].as_str().expect("callback id").to_owned();

    let IncomingUpdate::Known(incoming) = update(&world, update_id(&press)).await else {
        panic!("callback query not decoded");
    };
    let UpdateContent::CallbackQuery(query) = incoming.content else {
        panic!("expected a callback query, got {:?}", incoming.content);
    };
    assert_eq!(query.id, query_id);
    assert_eq!(query.data.as_deref(), Some("yes"));
    assert_eq!(query.from.id, ann as u64);

    let answer = AnswerCallbackQueryParams::builder().callback_query_id(query_id.clone()).text("Noted").build();
    assert!(world.client.answer_callback_query(&answer).await.expect("answerCallbackQuery"));
    let seen = world.get(&format!("/sandbox/callbacks/{query_id}")).await;
    assert_eq!(seen["answered"], true);
    assert_eq!(seen["text"], "Noted");
}

#[tokio::test]
async fn get_updates_confirms_with_offset_and_long_polls() {
    let world = World::start().await;
    let ann = world.user("Ann").await;
    let one = update_id(&world.act("text", ann, json!({"text": "one"})).await);
    let two = update_id(&world.act("text", ann, json!({"text": "two"})).await);

    let first = world.client.get_updates(&GetUpdatesParams::builder().timeout(0).build()).await.expect("getUpdates");
    let ids: Vec<_> = first.iter().map(IncomingUpdate::update_id).collect();
    assert!(ids.contains(&one) && ids.contains(&two), "{ids:?}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascend: {ids:?}");
    let texts: Vec<_> = first
        .iter()
        .filter_map(IncomingUpdate::known)
        .filter_map(|u| match &u.content {
            UpdateContent::Message(m) => m.text.clone(),
            _ => None,
        })
        .collect();
    assert!(texts.ends_with(&["one".to_owned(), "two".to_owned()]), "{texts:?}");

    // Not confirmed yet: asking from `two` returns it again.
    let again = world.client.get_updates(&GetUpdatesParams::builder().offset(two).timeout(0).build()).await;
    let again: Vec<_> = again.expect("getUpdates").iter().map(IncomingUpdate::update_id).collect();
    assert_eq!(again, [two]);

    // Confirmed: nothing is left, with or without an offset.
    let confirm = GetUpdatesParams::builder().offset(two + 1).timeout(0).build();
    assert!(world.client.get_updates(&confirm).await.expect("getUpdates").is_empty());
    let rest = world.client.get_updates(&GetUpdatesParams::builder().timeout(0).build()).await;
    assert!(rest.expect("getUpdates").is_empty());

    // A long poll returns the update that arrives while it waits.
    let poll = GetUpdatesParams::builder().offset(two + 1).timeout(10).build();
    let (polled, three) =
        tokio::join!(world.client.get_updates(&poll), async { world.act("text", ann, json!({"text": "three"})).await });
    let ids: Vec<_> = polled.expect("long poll").iter().map(IncomingUpdate::update_id).collect();
    assert_eq!(ids, [update_id(&three)]);
}

#[tokio::test]
async fn photos_upload_resend_and_download() {
    let world = World::start().await;
    let ann = world.user("Ann").await;
    let upload = Upload::new("dot.png", DOT_PNG).with_mime("image/png");
    let params = SendPhotoParams::builder().chat_id(ann).photo(upload.attach()).caption("a dot").build();
    let sent = world.client.send_photo(&params, &[upload]).await.expect("sendPhoto upload");
    assert_eq!(sent.caption.as_deref(), Some("a dot"));
    let sizes = sent.photo.expect("photo sizes");
    let largest = sizes.iter().max_by_key(|p| p.width * p.height).expect("at least one size");

    let by_id = SendPhotoParams::builder().chat_id(ann).photo(largest.file_id.clone()).build();
    let resent = world.client.send_photo(&by_id, &[]).await.expect("sendPhoto by file_id");
    let resent_sizes = resent.photo.expect("photo sizes");
    assert!(resent_sizes.iter().any(|p| p.file_unique_id == largest.file_unique_id));

    let file = world.client.get_file(&GetFileParams::builder().file_id(largest.file_id.clone()).build()).await;
    let file = file.expect("getFile");
    assert_eq!(file.file_unique_id, largest.file_unique_id);
    let path = file.file_path.expect("file_path");
    let bytes = world.client.download_file(&path).await.expect("download");
    assert_eq!(bytes.as_ref(), DOT_PNG);

    let missing = world.client.download_file("photos/no-such-file.png").await.expect_err("404");
    assert_eq!(missing.code(), Some(404));
}

#[tokio::test]
async fn documents_keep_name_type_and_bytes() {
    let world = World::start().await;
    let ann = world.user("Ann").await;
    let csv = b"title,episode\nFrieren,28\n".to_vec();
    let upload = Upload::new("report.csv", csv.clone()).with_mime("text/csv");
    let params = SendDocumentParams::builder().chat_id(ann).document(upload.attach()).caption("weekly").build();
    let sent = world.client.send_document(&params, &[upload]).await.expect("sendDocument");
    let document = sent.document.expect("document");
    assert_eq!(document.file_name.as_deref(), Some("report.csv"));
    assert_eq!(document.mime_type.as_deref(), Some("text/csv"));

    let by_id = SendDocumentParams::builder().chat_id(ann).document(document.file_id.clone()).build();
    let resent = world.client.send_document(&by_id, &[]).await.expect("sendDocument by file_id");
    assert_eq!(resent.document.expect("document").file_unique_id, document.file_unique_id);

    let file = world.client.get_file(&GetFileParams::builder().file_id(document.file_id).build()).await;
    let path = file.expect("getFile").file_path.expect("file_path");
    assert_eq!(world.client.download_file(&path).await.expect("download").as_ref(), csv.as_slice());
}

#[tokio::test]
async fn downloads_stream_to_a_writer_up_to_their_limit() {
    let world = World::start().await;
    let ann = world.user("Ann").await;
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let upload = Upload::new("data.bin", data.clone()).with_mime("application/octet-stream");
    let params = SendDocumentParams::builder().chat_id(ann).document(upload.attach()).build();
    let document = world.client.send_document(&params, &[upload]).await.expect("sendDocument").document;
    let file_id = document.expect("document").file_id;
    let file = world.client.get_file(&GetFileParams::builder().file_id(file_id).build()).await;
    let path = file.expect("getFile").file_path.expect("file_path");

    let target = std::env::temp_dir().join(format!("ferrogram-download-{}.bin", std::process::id()));
    let mut out = tokio::fs::File::create(&target).await.expect("temp file");
    assert_eq!(world.client.download_to(&path, &mut out).await.expect("streamed"), data.len() as u64);
    drop(out);
    assert_eq!(tokio::fs::read(&target).await.expect("read back"), data);
    let _ = tokio::fs::remove_file(&target).await;

    // The sandbox announces the length: a file over the limit is refused before any byte.
    let strict = Client::builder(common::TOKEN)
        .api_url(world.sandbox.url())
        .max_download_bytes(100_000)
        .build()
        .expect("client");
    let mut written = Vec::new();
    let err = strict.download_to(&path, &mut written).await.expect_err("too large");
    assert!(matches!(err, Error::TooLarge { limit: 100_000, .. }), "{err:?}");
    assert!(written.is_empty());
    assert!(matches!(strict.download_file(&path).await, Err(Error::TooLarge { .. })));
    let missing = strict.download_to("documents/none.bin", &mut written).await.expect_err("404");
    assert_eq!(missing.code(), Some(404));

    // Answers are bounded too: getMe's is larger than 64 bytes.
    let tight =
        Client::builder(common::TOKEN).api_url(world.sandbox.url()).max_answer_bytes(64).build().expect("client");
    assert!(matches!(tight.get_me().await, Err(Error::TooLarge { limit: 64, .. })));
}

#[tokio::test]
async fn media_groups_send_uploads_as_one_album() {
    let world = World::start().await;
    let ann = world.user("Ann").await;
    let first = Upload::new("one.png", DOT_PNG).with_mime("image/png");
    let second = Upload::new("two.png", DOT_PNG).with_mime("image/png");
    let media: Vec<MediaGroupInputMedia> = vec![
        InputMediaPhoto::builder().media(first.attach()).caption("first").build().into(),
        InputMediaPhoto::builder().media(second.attach()).build().into(),
    ];
    let params = SendMediaGroupParams::builder().chat_id(ann).media(media).build();
    let album = world.client.send_media_group(&params, &[first, second]).await.expect("sendMediaGroup");
    assert_eq!(album.len(), 2);
    let group_id = album[0].media_group_id.clone().expect("media_group_id");
    assert_eq!(album[1].media_group_id.as_deref(), Some(group_id.as_str()));
    assert!(album.iter().all(|m| m.photo.is_some()));
    assert_eq!(album[0].caption.as_deref(), Some("first"));

    // An upload the parameters do not use is refused before anything is sent.
    let sent_before = world.history(ann).await.len();
    let existing = album[0].photo.as_ref().and_then(|sizes| sizes.first()).expect("photo").file_id.clone();
    let media: Vec<MediaGroupInputMedia> = vec![InputMediaPhoto::builder().media(existing).build().into()];
    let params = SendMediaGroupParams::builder().chat_id(ann).media(media).build();
    let unused = Upload::new("three.png", DOT_PNG);
    let err = world.client.send_media_group(&params, std::slice::from_ref(&unused)).await.expect_err("unused upload");
    assert!(matches!(err, Error::InvalidRequest(_)), "{err}");
    assert_eq!(world.history(ann).await.len(), sent_before);
    // A reference without its upload reaches the server, which rejects it.
    let media: Vec<MediaGroupInputMedia> = vec![InputMediaPhoto::builder().media(unused.attach()).build().into()];
    let params = SendMediaGroupParams::builder().chat_id(ann).media(media).build();
    let err = world.client.send_media_group(&params, &[]).await.expect_err("no upload given");
    assert_eq!(err.code(), Some(400), "{err}");
}

#[tokio::test]
async fn polls_collect_answers_and_stop() {
    let world = World::start().await;
    let ann = world.user("Ann").await;
    let group = world.group("Club", &[ann]).await;
    let options: Vec<InputPollOption> =
        ["Red", "Blue"].into_iter().map(|t| InputPollOption::builder().text(t).build()).collect();
    let params =
        SendPollParams::builder().chat_id(group).question("Colour?").options(options).is_anonymous(false).build();
    let sent = world.client.send_poll(&params).await.expect("sendPoll");
    let poll = sent.poll.expect("poll");
    assert_eq!(poll.question, "Colour?");
    assert_eq!(poll.options.len(), 2);
    assert!(!poll.is_closed);

    let vote = world.act("poll_answer", ann, json!({"chat_id": group, "poll_id": poll.id, "option_ids": [1]})).await;
    match update(&world, update_id(&vote)).await {
        IncomingUpdate::Known(u) => match u.content {
            UpdateContent::PollAnswer(answer) => {
                assert_eq!(answer.poll_id, poll.id);
                assert_eq!(answer.option_ids, [1]);
            }
            other => panic!("expected a poll answer, got {other:?}"),
        },
        IncomingUpdate::Unknown { raw, .. } => panic!("poll answer not decoded: {raw}"),
    }

    let stop = StopPollParams::builder().chat_id(group).message_id(sent.message_id).build();
    let stopped = world.client.stop_poll(&stop).await.expect("stopPoll");
    assert!(stopped.is_closed);
    assert_eq!(stopped.total_voter_count, 1);
    assert_eq!(stopped.options[1].voter_count, 1);
}

#[tokio::test]
async fn dice_location_and_chat_action() {
    let world = World::start().await;
    let ann = world.user("Ann").await;
    let dice = world.client.send_dice(&SendDiceParams::builder().chat_id(ann).emoji("🎲").build()).await;
    let dice = dice.expect("sendDice").dice.expect("dice");
    assert_eq!(dice.emoji, "🎲");
    assert!((1..=6).contains(&dice.value), "{}", dice.value);

    let params = SendLocationParams::builder().chat_id(ann).latitude(52.52).longitude(13.405).build();
    let location = world.client.send_location(&params).await.expect("sendLocation").location.expect("location");
    assert!((location.latitude - 52.52).abs() < 1e-6);
    assert!((location.longitude - 13.405).abs() < 1e-6);

    let after = world.last_seq().await;
    let action = SendChatActionParams::builder().chat_id(ann).action(ChatAction::Typing).build();
    assert!(world.client.send_chat_action(&action).await.expect("sendChatAction"));
    world.next_event(ann, after, "chat_action").await;
}

#[tokio::test]
async fn copy_forward_and_pin() {
    let world = World::start().await;
    let ann = world.user("Ann").await;
    let group = world.group("Club", &[ann]).await;
    let original = world.client.send_message(&text(ann, "share me")).await.expect("sendMessage");

    let forward =
        ForwardMessageParams::builder().chat_id(group).from_chat_id(ann).message_id(original.message_id).build();
    let forwarded = world.client.forward_message(&forward).await.expect("forwardMessage");
    assert_eq!(forwarded.chat.id, group);
    assert_eq!(forwarded.text.as_deref(), Some("share me"));
    assert!(forwarded.forward_origin.is_some());

    let after = world.last_seq().await;
    let copy = CopyMessageParams::builder().chat_id(group).from_chat_id(ann).message_id(original.message_id).build();
    let copied = world.client.copy_message(&copy).await.expect("copyMessage");
    let event = world.next_event(group, after, "sent").await;
    assert_eq!(event["message"]["message_id"], copied.message_id);
    assert_eq!(event["message"]["text"], "share me");
    assert!(event["message"].get("forward_origin").is_none());

    let pin = PinChatMessageParams::builder().chat_id(group).message_id(copied.message_id).build();
    assert!(world.client.pin_chat_message(&pin).await.expect("pinChatMessage"));
    let chat = world.client.get_chat(&GetChatParams::builder().chat_id(group).build()).await.expect("getChat");
    assert_eq!(chat.pinned_message.expect("pinned").message_id, copied.message_id);
}

#[tokio::test]
async fn commands_chats_and_members() {
    let world = World::start().await;
    let ann = world.user("Ann").await;
    let group = world.group("Club", &[ann]).await;

    let commands = vec![
        BotCommand::builder().command("start").description("Start").build(),
        BotCommand::builder().command("seen").description("Mark an episode seen").build(),
    ];
    let params = SetMyCommandsParams::builder().commands(commands.clone()).build();
    assert!(world.client.set_my_commands(&params).await.expect("setMyCommands"));
    let stored: Vec<BotCommand> = world.client.call("getMyCommands", &json!({})).await.expect("getMyCommands");
    assert_eq!(stored, commands);

    let private = world.client.get_chat(&GetChatParams::builder().chat_id(ann).build()).await.expect("getChat");
    assert_eq!(private.id, ann);
    assert_eq!(private.type_field, ChatType::Private);
    assert_eq!(private.first_name.as_deref(), Some("Ann"));
    let club = world.client.get_chat(&GetChatParams::builder().chat_id(group).build()).await.expect("getChat");
    assert_eq!(club.title.as_deref(), Some("Club"));
    assert_eq!(club.type_field, ChatType::Supergroup);

    // The sandbox makes the first member the group's creator; either way the member is Ann.
    let params = GetChatMemberParams::builder().chat_id(group).user_id(ann as u64).build();
    match world.client.get_chat_member(&params).await.expect("getChatMember") {
        ChatMember::Member(member) => assert_eq!(member.user.id, ann as u64),
        ChatMember::Creator(owner) => assert_eq!(owner.user.id, ann as u64),
        other => panic!("Ann is in the group, got {other:?}"),
    }
    let params = GetChatMemberParams::builder().chat_id(group).user_id(BOT_ID as u64).build();
    match world.client.get_chat_member(&params).await.expect("getChatMember") {
        ChatMember::Member(member) => assert!(member.user.is_bot),
        ChatMember::Administrator(admin) => assert!(admin.user.is_bot),
        other => panic!("the bot is in the group, got {other:?}"),
    }
    let stranger = world.post("/sandbox/users", json!({"first_name": "Bob"})).await["id"].as_i64().expect("id");
    let params = GetChatMemberParams::builder().chat_id(group).user_id(stranger as u64).build();
    let member = world.client.get_chat_member(&params).await;
    match member {
        Ok(ChatMember::Left(left)) => assert_eq!(left.user.id, stranger as u64),
        Err(err) => assert_eq!(err.code(), Some(400), "{err}"),
        Ok(other) => panic!("a stranger is no member: {other:?}"),
    }
}

#[tokio::test]
async fn inline_queries_are_answered() {
    let world = World::start().await;
    let ann = world.user("Ann").await;
    let asked = world.act("inline_query", ann, json!({"query": "cats"})).await;
    let query_id = asked["inline_query"]["id"].as_str().expect("query id").to_owned();
    match update(&world, update_id(&asked)).await {
        IncomingUpdate::Known(u) => match u.content {
            UpdateContent::InlineQuery(q) => assert_eq!(q.query, "cats"),
            other => panic!("expected an inline query, got {other:?}"),
        },
        IncomingUpdate::Unknown { raw, .. } => panic!("inline query not decoded: {raw}"),
    }
    let article = InlineQueryResultArticle::builder()
        .id("1")
        .title("Cats")
        .input_message_content(InputTextMessageContent::builder().message_text("meow").build())
        .build();
    let params = AnswerInlineQueryParams::builder()
        .inline_query_id(query_id.clone())
        .results(vec![InlineQueryResult::Article(article)])
        .build();
    assert!(world.client.answer_inline_query(&params).await.expect("answerInlineQuery"));
    let seen = world.get(&format!("/sandbox/inline_queries/{query_id}")).await;
    assert_eq!(seen["answered"], true);
    assert_eq!(seen["results"][0]["title"], "Cats");
}

#[tokio::test]
async fn webhooks_set_inspect_and_delete() {
    let world = World::start().await;
    let url = "https://bots.example.invalid/hook";
    let params = SetWebhookParams::builder().url(url).secret_token("s3cret").build();
    assert!(world.client.set_webhook(&params).await.expect("setWebhook"));
    let info = world.client.get_webhook_info().await.expect("getWebhookInfo");
    assert_eq!(info.url, url);

    let err = world.client.get_updates(&GetUpdatesParams::builder().build()).await.expect_err("webhook is set");
    assert_eq!(err.code(), Some(409), "{err}");
    assert!(!err.is_retryable());

    assert!(world.client.delete_webhook(&DeleteWebhookParams::builder().build()).await.expect("deleteWebhook"));
    assert_eq!(world.client.get_webhook_info().await.expect("getWebhookInfo").url, "");
    assert!(world.client.get_updates(&GetUpdatesParams::builder().timeout(0).build()).await.is_ok());

    let with_path = SetWebhookParams::builder().url(url).certificate(std::path::PathBuf::from("/tmp/cert.pem")).build();
    assert!(matches!(world.client.set_webhook(&with_path).await, Err(Error::InvalidRequest(_))));
}

#[tokio::test]
async fn api_errors_carry_code_and_description() {
    let world = World::start().await;
    let unknown = world.client.call::<_, Value>("noSuchMethod", &json!({})).await.expect_err("404");
    assert_eq!(unknown.code(), Some(404));
    let missing_chat = world.client.send_message(&text(987_654_321, "hi")).await.expect_err("no such chat");
    assert_eq!(missing_chat.code(), Some(400));
    assert!(missing_chat.to_string().contains("chat not found"), "{missing_chat}");
    let bad_params = world.client.call::<_, Value>("sendMessage", &json!({"text": "no chat"})).await;
    assert_eq!(bad_params.expect_err("chat_id missing").code(), Some(400));
}

#[tokio::test]
async fn connection_failures_are_connect_errors_without_the_token() {
    // Port 9 (discard) is closed on test machines; the connect fails at once.
    let client = Client::builder(common::TOKEN)
        .api_url("http://127.0.0.1:9")
        .retry(Backoff::none())
        .build()
        .expect("client builds");
    let err = client.get_me().await.expect_err("nothing listens there");
    assert!(matches!(err, Error::Connect(_)), "{err:?}");
    assert!(err.is_retryable());
    assert!(!err.may_have_been_delivered(), "a refused connection carried nothing");
    assert!(!format!("{err} {err:?}").contains("Secret_token"), "token leaked: {err:?}");
}
