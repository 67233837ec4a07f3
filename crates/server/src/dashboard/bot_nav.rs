//! What a bot's run-it pages (users, collections, charts) share: the bot's sub-navigation
//! (`templates/bot_nav.html`: versions, users, collections, charts, broadcasts; the current one marked) and
//! its values in a page's context, and path segments made safe for links.

use serde_json::{Value, json};

use super::workspace::InWorkspace;

/// The workspace's context ([`InWorkspace::context`]) with the bot's name, its pages' base path
/// `/w/{workspace}/bots/{name}` and which of its pages this is (`history`, `users`,
/// `collections`, `charts`).
pub(super) fn bot_context(at: &InWorkspace, bot: &str, current: &str) -> Value {
    let mut context = at.context();
    context["bot"] = json!(bot);
    context["bot_base"] = json!(format!("{}/bots/{}", at.base(), segment(bot)));
    context["bot_page"] = json!(current);
    context
}

/// A path segment, percent-encoded (a bot's name is `A-Z a-z 0-9 _ - .`; ids and collection
/// names come from the path and are not trusted).
pub(super) fn segment(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
