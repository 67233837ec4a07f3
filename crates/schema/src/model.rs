//! What a bot file says, version 1. The JSON Schema and docs/schema.md are generated from these
//! types, so each doc comment is user-facing documentation.
//!
//! Templates: every text is a minijinja template. Its context holds `from` (the Telegram user
//! who acted), `chat`, `message`, `callback` (data of a pressed button), `command`
//! (`name`, `payload`), `user`, `chat_vars` and `bot` (the variables of each scope), `form` (the
//! answers of the current form), `item` (the loop variable of `for_each`), `result` (what the
//! last step produced), `web_app` (data sent by a Web App), `locale`, `now` (the current time)
//! and, in the `catch` steps of a `try` and in the `errors` reply, `error`. A text that is exactly `@key` is the key's
//! entry in `texts` for the user's locale; inside templates, `t("key")` does the same.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A bot file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BotFile {
    /// The schema version: `1`.
    pub ferrogram: u32,
    /// Who the bot is.
    pub bot: BotSettings,
    /// Texts per locale: `texts: {en: {welcome: "Hi {{ from.first_name }}"}, ru: {…}}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub texts: BTreeMap<String, BTreeMap<String, String>>,
    /// Variables the bot keeps, per user, per chat and for the whole bot.
    #[serde(default)]
    pub variables: Variables,
    /// Roles by Telegram user id; every user without one has the role `user`. Templates read
    /// each role's user ids as `roles.<name>`: `notify: {to: roles.admins, message: …}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub roles: BTreeMap<String, Role>,
    /// Limits on how often a user may use the bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// Handlers that apply in every scene, tried after the current scene's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on: Vec<Handler>,
    /// The bot's scenes (states), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scenes: BTreeMap<String, Scene>,
    /// Jobs the bot runs on a schedule, by name: `jobs: {digest: {cron: "0 9 * * *", do: […]}}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub jobs: BTreeMap<String, Job>,
    /// What a user sees when a step fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<ErrorHandling>,
    /// Typed data the bot keeps, by collection name: `collections: {subscriptions: {scope: user,
    /// fields: {title: string}}}`; read and written by `insert`, `update`, `remove`, `query`,
    /// `count` and `search`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub collections: BTreeMap<String, crate::data::Collection>,
    /// Where the events of `emit` are sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<crate::data::Webhook>,
    /// Sessions of the `http` step, by name: a login whose cookies later calls send, a
    /// handshake header, basic authentication (`http: {session: qbit, url: …}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub http_sessions: BTreeMap<String, crate::session::HttpSession>,
}

/// Who the bot is and how it speaks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BotSettings {
    /// A name for people and logs.
    pub name: String,
    /// The Bot API token, usually `${ENV_VAR}` (under `ferrogram run`: any variable but
    /// Ferrogram's own `FERROGRAM_*`, which only when the operator lists it with `--bot-env`).
    /// Not needed in the sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The locale of users whose language the bot does not offer.
    #[serde(default = "default_locale")]
    pub default_locale: String,
    /// The locales the bot offers; a user gets the one matching their Telegram language.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locales: Vec<String>,
    /// Commands published in Telegram's menu (setMyCommands), per locale.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CommandSpec>,
    /// The scene a new chat starts in. Needed when the bot has scenes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// How texts are formatted unless a step says otherwise; values inserted into them are
    /// escaped for it (see a reply's `parse_mode`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_mode: Option<ParseMode>,
    /// What happens to a message text longer than Telegram's 4,096 characters, or a caption
    /// longer than its 1,024: `split` (the default), `cut` or `error`.
    #[serde(default, skip_serializing_if = "LongText::is_default")]
    pub long_text: LongText,
}

/// What the engine does with a text Telegram would refuse as too long (a message over 4,096
/// characters, a caption over 1,024), counted as Telegram counts them: the visible text, HTML
/// tags and entities (`&amp;`) not included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LongText {
    /// Send it as several messages, one after the other, each broken at the last paragraph,
    /// line or word boundary that fits (a word longer than a message is broken inside). An
    /// HTML text is never broken inside a tag or an entity: the tags open at the break are
    /// closed at the end of one part and opened again at the start of the next. A caption
    /// keeps what fits; the rest follows as messages. Buttons go with the last part. An edit
    /// cannot become several messages, so an edited text is cut.
    #[default]
    Split,
    /// Keep what fits, broken as `split` breaks it, and end it with `…`.
    Cut,
    /// Send it as it is: Telegram refuses it, and the user gets the `errors` reply with
    /// `error.reason` "message is too long".
    Error,
}

impl LongText {
    fn is_default(&self) -> bool {
        *self == LongText::Split
    }
}

fn default_locale() -> String {
    "en".into()
}

/// A command in Telegram's menu.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// Without the slash: `start`.
    pub command: String,
    /// What the menu says about it.
    pub description: Text,
}

/// A text: one template for every locale, or one per locale (`{en: "Hi", ru: "Привет"}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Text {
    One(String),
    PerLocale(BTreeMap<String, String>),
}

/// How Telegram formats a text: `HTML`, `MarkdownV2`, or the legacy `Markdown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ParseMode {
    #[serde(rename = "HTML")]
    Html,
    MarkdownV2,
    Markdown,
}

/// Variables by scope.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variables {
    /// One value per user of the bot (in templates: `user.<name>`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user: BTreeMap<String, Variable>,
    /// One value per chat (in templates: `chat_vars.<name>`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub chat: BTreeMap<String, Variable>,
    /// One value for the whole bot (in templates: `bot.<name>`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bot: BTreeMap<String, Variable>,
}

/// A declared variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    /// What the variable holds.
    #[serde(rename = "type")]
    pub kind: ValueType,
    /// The value before anything set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

/// The type of a variable's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    String,
    Number,
    Bool,
    List,
    Object,
}

/// The users who have a role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// Telegram user ids.
    pub users: Vec<i64>,
}

/// How often a user may use the bot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Updates a user may send per minute; more get `reply` (or are dropped silently).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_minute: Option<u32>,
    /// Updates a user may send per day (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_day: Option<u32>,
    /// Roles the limits do not apply to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exempt: Vec<String>,
    /// What a user over a limit is told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<Text>,
}

/// A scene: a state a chat is in, with what happens on entering it and the handlers that
/// apply while in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scene {
    /// Steps run when a chat enters the scene.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_enter: Vec<Step>,
    /// Handlers tried first while the chat is in this scene.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on: Vec<Handler>,
    /// A form the scene asks, field by field, after `on_enter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<Form>,
    /// Only users with one of these roles may enter the scene or act in it. Checked on every
    /// way in (a `goto` button, a `goto` or `call` step, a `return` to it, a list's ‹ › page
    /// of it): anyone else is refused ("not available to you"), and nothing the handler did is
    /// kept; a `try` can catch the refusal (`error.kind` is `forbidden`). While a chat (a group)
    /// is in the scene, its handlers and form answer only those users. Not on `bot.start`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// What triggers a handler (exactly one trigger), an optional condition and guard, and the
/// steps it runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Handler {
    /// A command, without the slash: `start`. Its payload (`/start ref42`) is `command.payload`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// A text message: an exact text, `any`, or a regular expression between slashes
    /// (`/^\d+$/`; its groups are `match.1`, `match.2`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A message the user edited, by its new text (or caption), written as for `text`: an exact
    /// text, `any`, or `/regex/`. `message` is the edited message (with `edit_date`). An edit
    /// never answers a form's question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_text: Option<String>,
    /// A pressed inline button: its exact data, or a prefix ending in `*` (`like:*`; the rest is
    /// `callback.rest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// A message with content of this kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentKind>,
    /// An inline query; its text is `inline.query`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_query: Option<AnyMarker>,
    /// Runs only when this condition (a minijinja expression) is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Runs only for users with one of these roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The steps, in order.
    #[serde(rename = "do")]
    pub steps: Vec<Step>,
}

/// `any`: every inline query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnyMarker {
    Any,
}

/// The content of a message a handler reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContentKind {
    /// A photo (`message.photo`).
    Photo,
    /// A file (`message.document`).
    Document,
    /// A shared location (`message.location`).
    Location,
    /// A shared contact (`message.contact`).
    Contact,
    /// A vote in a non-anonymous poll the bot sent.
    PollAnswer,
    /// Someone joined the group.
    MemberJoined,
    /// Someone left the group.
    MemberLeft,
    /// Data sent back by a Web App opened from a reply keyboard button (`web_app` in
    /// `keyboard`): `web_app.data` (parsed as JSON when it is JSON), `web_app.raw` (the text as
    /// sent) and `web_app.button_text`. A client can send anything here: check it.
    WebAppData,
}

/// A form: questions asked one by one, each answer checked; a wrong answer is asked again
/// with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Form {
    /// The questions, in order.
    pub fields: Vec<FormField>,
    /// A text that cancels the form (default `/cancel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<String>,
    /// Where the answers are kept: as user variables of the same names (`user`), or only in
    /// `form` for `on_done` (`none`, the default).
    #[serde(default)]
    pub store: FormStore,
    /// Steps run with every answer in `form`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_done: Vec<Step>,
    /// Steps run when the user cancels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_cancel: Vec<Step>,
}

/// Where a form keeps its answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FormStore {
    #[default]
    None,
    User,
}

/// One question of a form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    /// The answer's name in `form` (and the user variable, with `store: user`).
    pub name: String,
    /// The question.
    pub ask: Text,
    /// What the answer must be (default `text`).
    #[serde(rename = "type", default)]
    pub kind: FieldType,
    /// Shortest text (characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    /// Longest text (characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// Smallest number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The choices of a `choice` field, offered as buttons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// The regular expression a `regex` field must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Refuses a `text` or `regex` answer with a word of the engine's English profanity list
    /// (whole words, any case, leetspeak read: `sh1t`; `Scunthorpe` passes) or a Russian obscene
    /// word (by root, in any inflection: `нахуй`, `заебал`; `небо`, `хлеб`, `страхуй` pass).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clean: bool,
    /// What the user is told when an answer is wrong (the reason is added by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid: Option<Text>,
}

/// What a form field's answer must be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Any text, within `min_length` and `max_length`.
    #[default]
    Text,
    /// A number, within `min` and `max`.
    Number,
    /// A date as YYYY-MM-DD or DD.MM.YYYY.
    Date,
    /// One of `choices`, offered as buttons.
    Choice,
    /// A text matching `pattern`.
    Regex,
    /// A photo; the answer is its file_id.
    Photo,
    /// A shared location.
    Location,
    /// A shared contact.
    Contact,
    /// A city of the engine's list (the 2,000 largest, GeoNames), by name, tolerant of case,
    /// accents and typos (`Hamgurg`), optionally with its country (`Córdoba, AR`), or the one
    /// nearest to a shared location. The answer is `{name, country, country_code, lat, lon}`.
    City,
}

/// One step of a handler, written as a single key: `- reply: "Hi"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Sends a message to the chat.
    Reply(Reply),
    /// Edits the message whose button was pressed.
    Edit(Reply),
    /// Answers the pressed button (a toast, or an alert).
    Answer(Answer),
    /// Deletes the message the update is about.
    Delete(AnyMarker),
    /// Sets variables: `set: {user.score: "{{ user.score + 1 }}"}`. Values are templates;
    /// a template that renders a number, `true`/`false` or JSON stores that value.
    Set(BTreeMap<String, String>),
    /// Forgets variables.
    Unset(Vec<String>),
    /// Moves the chat to a scene (running its `on_enter`) and ends the handler.
    Goto(String),
    /// Enters a scene and comes back when it runs `return` (in this update or a later one,
    /// after its form): the chat is in this scene again and the steps after the `call` run
    /// then, in the context of the update that returned (its `form`, `result`…; names of the
    /// calling update such as `match`, `item` or `as` results are gone). A `call` inside a
    /// `for_each` goes on after the loop. After a reload, the steps after the `call` run only
    /// if the handler (or `on_enter`, `on_done`…) holding it is unchanged.
    Call(String),
    /// Returns from a `call`, running the steps that followed it.
    Return(AnyMarker),
    /// Runs `then` when the condition is true, else `else`.
    If(Condition),
    /// Runs `do` once per element of a list, the element as `item` (the first 1000 elements).
    /// Each element and each step counts against the update's step budget (100,000 steps by
    /// default), nested loops included: loops whose written sizes (`range(1000)`) multiply past
    /// it are refused.
    ForEach(ForEach),
    /// Sends a dice (🎲 🎯 🎳 🏀 ⚽ 🎰); its value is `result.value`.
    Dice(String),
    /// Sends a poll or a quiz.
    Poll(Poll),
    /// Sends a message to other users or chats, paced to Telegram's bulk limits.
    Notify(Notify),
    /// Answers an inline query with articles.
    AnswerInline(AnswerInline),
    /// Calls an HTTP API; the answer (`status`, `ok`, `json`, `text`) is `result` and, with
    /// `save`, a variable. Private, loopback and link-local addresses are refused unless the
    /// operator allows that host and port. With `session`, it logs in first and sends the
    /// session's cookies (see `http_sessions`).
    Http(HttpRequest),
    /// Adds a record to a collection: `insert: {collection: subs, values: {title: "{{ form.title }}"},
    /// as: sub}`.
    Insert(crate::data::Insert),
    /// Changes records of a collection: `update: {collection: subs, id: "{{ callback.rest }}",
    /// set: {episode: 3}}`.
    Update(crate::data::Update),
    /// Deletes records of a collection: `remove: {collection: subs, where: {title: Frieren}}`.
    Remove(crate::data::Remove),
    /// Reads records of a collection: `query: {collection: subs, where: {episode: {gt: 3}},
    /// order_by: title, as: subs}`.
    Query(crate::data::QueryStep),
    /// Counts records of a collection: `count: {collection: subs, as: n}`.
    Count(crate::data::Count),
    /// Searches a collection's text, tolerant of typos: `search: {collection: anime, text:
    /// "{{ command.payload }}", as: hits}`.
    Search(crate::data::Search),
    /// Sends an event to the bot's `webhooks`: `emit: {event: subscribed, data: {title: …}}`.
    Emit(crate::data::Emit),
    /// Reads an RSS or Atom feed over HTTP: `feed: {url: "{{ bot.feed_url }}", as: feed}`, then
    /// `feed.items` (`{id, title, link, published, summary}`); malformed entries are skipped.
    Feed(crate::feed::Feed),
    /// Asks an OpenAI-compatible model and streams its answer into the chat as message edits:
    /// `llm: {url: "{{ bot.llm_url }}", model: gpt-4o-mini, memory: chat_vars.history}`.
    Llm(crate::llm::Llm),
    /// Runs `do`, and if one of its steps fails (an HTTP call that gets no answer, a template
    /// error, a Bot API error, …), undoes what `do` did and runs `catch` instead, with the
    /// failure as `error` (`error.message`, `error.kind`): `try: {do: [http: …], catch: [reply:
    /// "Sonarr is down: {{ error.message }}"]}`.
    Try(Try),
}

/// A message to send. A plain string is the text.
// Replies are read once per bot load; boxing `Full` would only cost users of the model a `Box`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Reply {
    Text(String),
    Full(ReplySpec),
}

/// A message with its options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplySpec {
    /// The text (or a photo's caption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Text>,
    /// A photo: a file_id or an HTTP URL (a template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<String>,
    /// How the text is formatted (default: `bot.parse_mode`). Under `HTML`, `MarkdownV2` and
    /// `Markdown`, every value a template inserts (`{{ message.text }}`) is escaped for that
    /// mode, so a user's `<a href=…>` or `a < b` arrives as the literal text; the template's
    /// own text is the bot's markup and is kept. `{{ value | raw }}` (or `| safe`) inserts a
    /// value as markup, unescaped: only for values the bot itself made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_mode: Option<ParseMode>,
    /// Buttons under the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Buttons>,
    /// A keyboard replacing the user's (reply keyboard); `[]` removes it. A key is its label,
    /// or `{text: …, web_app: "https://…"}` for a key opening a Web App (private chats only),
    /// whose data comes back to a `content: web_app_data` handler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyboard: Option<Vec<Vec<Key>>>,
}

/// A key of a reply keyboard: its label (sent as the user's message when pressed), or a key
/// opening a Web App.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Key {
    Text(String),
    WebApp(WebAppKey),
}

/// A key opening a Web App.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebAppKey {
    /// The label (a template).
    pub text: String,
    /// The Web App's URL (a template); Telegram requires `https://`. A path starting with `/`
    /// is a page Ferrogram serves for the bot under `server.public_url`: `/shop`, the shop.
    pub web_app: String,
}

impl Key {
    /// The label's template.
    pub fn label(&self) -> &str {
        match self {
            Key::Text(text) => text,
            Key::WebApp(key) => &key.text,
        }
    }
}

/// Inline buttons: fixed rows, or rows generated from a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Buttons {
    Rows(Vec<Vec<Button>>),
    FromList(ButtonList),
}

/// One inline button: its label and what it does (exactly one of `callback`, `goto`, `url`,
/// `web_app`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Button {
    /// The label.
    pub text: Text,
    /// Data sent back when pressed (a template; at most 64 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// Moves to this scene when pressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goto: Option<String>,
    /// Opens a link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Opens a Web App inside Telegram (private chats only): its URL, a template; Telegram
    /// requires `https://`. A path starting with `/` is a page Ferrogram serves for the bot
    /// under `server.public_url`: `/shop`, the shop (its products: `bot.products`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_app: Option<String>,
}

/// Buttons made from a list, one per element (`item`), paginated: a list longer than
/// `page_size` shows one page with ‹ › buttons under it. Pressing one edits the same message to
/// the other page, the engine handling the press itself (no handler needed). The list is not
/// kept between presses: `from` (and the message's texts) are evaluated again at each press, in
/// the context of the press (current variables; `item`, `form`, `result` and the names given
/// with `as` by the handler that first sent the message are gone: a list read from a collection
/// should fit one page, with the step's `limit`). A press after a reload that changed the bot's messages
/// may show another list, or nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ButtonList {
    /// An expression giving the list: `user.favourites`.
    pub from: String,
    /// The button made for each `item`.
    pub button: Button,
    /// Buttons per row (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<u32>,
    /// Buttons per page; more add ‹ › buttons (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
}

/// An answer to a pressed button. A plain string is the toast's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Answer {
    Text(String),
    Full(AnswerSpec),
}

/// An answer with its options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerSpec {
    /// The toast's (or alert's) text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Text>,
    /// An alert the user must dismiss, instead of a toast.
    #[serde(default)]
    pub alert: bool,
}

/// `if`: a condition and the steps for each outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// A minijinja expression: `user.age >= 18`.
    pub condition: String,
    /// Steps run when the condition is true.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub then: Vec<Step>,
    /// Steps run when it is false.
    #[serde(rename = "else", default, skip_serializing_if = "Vec::is_empty")]
    pub otherwise: Vec<Step>,
}

/// `for_each`: steps repeated for each element of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForEach {
    /// An expression giving the list.
    #[serde(rename = "in")]
    pub list: String,
    /// The steps, run once per element (as `item`).
    #[serde(rename = "do")]
    pub steps: Vec<Step>,
}

/// The most elements one `for_each` visits; the rest of a longer list is not visited.
pub const MAX_FOR_EACH_ITEMS: usize = 1_000;
/// The steps one update may run by default (every step started and every `for_each`
/// iteration, counted across nested loops, `call`s and scene entries). The engine's
/// `EngineConfig::update_steps` changes it; the validator rejects loops whose literal sizes
/// multiply past this default.
pub const DEFAULT_UPDATE_STEPS: u64 = 100_000;

/// `try`: steps whose failure is handled here instead of ending the handler with the bot's
/// `errors` reply.
///
/// When a step of `do` fails, what `do` did so far is undone: its messages and other Bot API
/// calls are not sent, its `set`/`unset` are forgotten, the chat's scene and form are as before,
/// and `result` and the names given with `as` are as before `try`. Two things cannot be undone
/// and stay: collection writes (`insert`, `update`, `remove`) and `emit` events already made, and
/// `dice`/`poll`, which are sent at once. Then `catch` runs with `error`: `error.message` (what
/// failed, in words) and `error.kind`: `http` (a network error, a timeout, a refused address or
/// an open circuit, in `http` or `feed`), `template` (a template or condition that failed),
/// `telegram` (a Bot API call of `dice` or `poll`), `store` (the database) or `step` (a step that
/// cannot run as written: a missing scene, a value of the wrong type…). A failure inside `catch`
/// is not caught by the same `try`. The update's budgets (its time, its steps and its template
/// fuel) are not step failures: a handler that spends one ends with the `errors` reply, whatever
/// `try` it is in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Try {
    /// The steps tried, in order.
    #[serde(rename = "do")]
    pub steps: Vec<Step>,
    /// The steps run when one of `do` fails (none: the failure is ignored and the handler goes
    /// on after `try`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Step>,
}

/// A poll, or a quiz when it has `correct`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Poll {
    /// The question.
    pub question: Text,
    /// The answers offered (at least 2).
    pub options: Vec<Text>,
    /// A quiz has one right answer (its index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct: Option<u32>,
    /// Whether votes are anonymous.
    #[serde(default = "yes")]
    pub anonymous: bool,
    /// Whether a user may pick several answers.
    #[serde(default)]
    pub multiple: bool,
}

pub(crate) fn yes() -> bool {
    true
}

/// `notify`: a message sent to other chats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// An expression giving the chat ids to send to: `bot.subscribers`.
    pub to: String,
    /// The message.
    pub message: Reply,
}

/// `answer_inline`: articles answering an inline query, one per element of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerInline {
    /// An expression giving the list to answer with.
    pub from: String,
    /// The article's title for each `item`.
    pub title: String,
    /// The message sent when the user picks it.
    pub message: String,
    /// The article's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A job: steps the bot runs on a schedule, on its own rather than for an update (exactly one
/// of `cron` and `every`). A job has no chat, user or message: it reads and sets `bot.…`
/// variables and sends with `notify` (`reply`, `edit`, `answer` and the other steps that need a
/// chat are errors). A failing run is logged, and the job runs again at its next time. Jobs
/// stop with the bot and are rescheduled when it is reloaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// A cron expression, in UTC: `minute hour day-of-month month day-of-week` (`0 9 * * MON`),
    /// or with seconds first (6 fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// A fixed interval: a whole number and `s`, `m`, `h` or `d` (`30s`, `5m`, `1h`, `1d`); at
    /// least `1s`. The first run is one interval after the bot starts (or is reloaded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    /// The steps, in order.
    #[serde(rename = "do")]
    pub steps: Vec<Step>,
}

/// `http`: a request to an HTTP API. Network errors, timeouts, refused addresses and an open
/// circuit (a host that failed many times in a row is not called for a while) fail the step, so
/// the bot's `errors` reply answers; any HTTP answer, 4xx and 5xx included, is a result with
/// `ok: false` the bot can check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpRequest {
    /// The URL (a template): `https://api.example.com/weather?city={{ user.city }}`. Only
    /// `http://` and `https://`.
    pub url: String,
    /// The HTTP method.
    #[serde(default)]
    pub method: HttpMethod,
    /// Request headers; values are templates. `${NAME}` in a value is read when the step runs
    /// and never logged: `Authorization: "Bearer ${WEATHER_KEY}"`. Under `serve` it is the bot's
    /// stored secret `NAME` (`ferrogram secrets set NAME --bot BOT`), else its workspace's, else
    /// the environment variable `NAME`; only variables the operator lets bot files read
    /// (`--bot-env NAME`; under `serve` only those listed): another name fails the step, as an
    /// unset one does.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Query parameters added to the URL; values are templates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    /// A JSON body (any value; each string in it is a template, and a string that is only one
    /// `{{ … }}` keeps the type of what it renders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// A form body (`application/x-www-form-urlencoded`) instead of `json`, by field; values
    /// are templates (`${NAME}` is a secret, as in headers): `form: {hashes: "{{ item.hash }}"}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub form: BTreeMap<String, String>,
    /// The `http_sessions` entry this call belongs to: it sends the session's cookies, handshake
    /// header and basic authentication, logging in first when needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Time limit of one attempt, in milliseconds (1 to 60000).
    #[serde(default = "default_http_timeout")]
    pub timeout_ms: u32,
    /// Retries after a network error, a timeout, a 5xx or a 429 answer, with growing random
    /// waits (0 to 5).
    #[serde(default = "default_http_retries")]
    pub retries: u32,
    /// A declared variable of type `object` that keeps the answer: `user.last_weather`.
    /// Without it, the answer is only `result`, until the next step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save: Option<String>,
}

/// The default of `timeout_ms`.
pub const DEFAULT_HTTP_TIMEOUT_MS: u32 = 10_000;
/// The largest `timeout_ms`.
pub const MAX_HTTP_TIMEOUT_MS: u32 = 60_000;
/// The default of `retries`.
pub const DEFAULT_HTTP_RETRIES: u32 = 2;
/// The most `retries`.
pub const MAX_HTTP_RETRIES: u32 = 5;

fn default_http_timeout() -> u32 {
    DEFAULT_HTTP_TIMEOUT_MS
}

fn default_http_retries() -> u32 {
    DEFAULT_HTTP_RETRIES
}

/// An HTTP method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    /// `GET`, `POST`…
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }
}

/// What a user is told when handling their message failed, or when Telegram refused for good
/// a message the bot sent them (the failure is logged with its details). The reply's template
/// sees `error`: `error.kind` is `failed` for a failed handler (with `error.message`, what
/// failed; and when it was a call made at once, a `dice` or a `poll`, that Telegram refused,
/// `error.code` and `error.reason` too) and `refused` for a refused message, which also has
/// `error.code` (Telegram's error code, e.g. 400), `error.reason`
/// (Telegram's description, e.g. "Bad Request: message is too long") and `error.method` (the
/// call refused, e.g. `sendPhoto`). The reply to a refused message is sent in the bot's
/// `default_locale` and without `parse_mode`; if Telegram refuses it too, that is logged and
/// nothing more is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorHandling {
    /// The message.
    pub reply: Text,
}
