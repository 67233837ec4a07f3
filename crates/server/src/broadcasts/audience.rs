//! Whom a broadcast goes to: the users the bot has seen (its directory, `bot_users`), all of
//! them or those whose variables have given values and/or who own a record of a collection
//! matching a `where` (as the record list's). Resolved to private chat ids (a user's private
//! chat has the user's id) when the broadcast starts, and once when it is created, so that an
//! empty audience is refused then.

use ferrogram_engine::Scope;
use ferrogram_store::BotRecord;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::api::collections::owners_matching;
use crate::api::problem::{FieldError, Problem, store_failed};
use crate::bots::Api;

/// Users read from the directory at once.
const PAGE: u32 = 1000;

/// Whom to send to; `{}`: every user the bot has seen. The conditions given must all hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    /// Only users whose variables (`user.NAME`) have exactly these values.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
    /// Only users owning a record of this collection (of the bot's newest version)…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    /// …that matches this `where` (as a bot file's, and the record list's `?where=`).
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Value>,
}

impl Audience {
    /// What is wrong with its shape, at pointers under `at`.
    pub fn problems(&self, at: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.filter.is_some() && self.collection.is_none() {
            errors.push(FieldError::at(format!("{at}/where"), "a `where` needs a `collection`"));
        }
        if self.filter.as_ref().is_some_and(|f| !f.is_object()) {
            errors.push(FieldError::at(format!("{at}/where"), "an object of conditions"));
        }
        errors
    }
}

/// The private chat ids of `bot`'s users in `audience`, lowest first. A bot that never ran has
/// none. A collection it does not declare or a bad `where` is a 422 at `at/collection` or
/// `at/where`.
pub async fn resolve(
    api: &Api,
    workspace: i64,
    bot: &BotRecord,
    audience: &Audience,
    at: &str,
) -> Result<Vec<i64>, Problem> {
    let Some(data) = bot.telegram_id else { return Ok(Vec::new()) };
    let mut users = Vec::new();
    let mut after = i64::MIN;
    loop {
        let page = api
            .store
            .bot_users_page(data, None, Some(false), after, PAGE)
            .await
            .map_err(store_failed("reading the users"))?;
        let ids: Vec<i64> = page.iter().filter_map(|user| user["id"].as_i64()).collect();
        let Some(last) = ids.last() else { break };
        after = *last;
        users.extend(ids);
        if page.len() < PAGE as usize {
            break;
        }
    }
    if !audience.variables.is_empty() {
        let mut kept = Vec::new();
        for user in users {
            let variables =
                api.store.load_vars(data, Scope::User(user)).await.map_err(store_failed("reading variables"))?;
            if audience.variables.iter().all(|(name, value)| variables.get(name) == Some(value)) {
                kept.push(user);
            }
        }
        users = kept;
    }
    if let Some(collection) = &audience.collection {
        let owners = owners_matching(api, workspace, bot.clone(), collection, audience.filter.as_ref()).await.map_err(
            |problem| match problem.status {
                404 => Problem::invalid(
                    "the audience is not acceptable",
                    vec![FieldError::at(format!("{at}/collection"), problem.detail)],
                ),
                400 => Problem::invalid(
                    "the audience is not acceptable",
                    vec![FieldError::at(format!("{at}/where"), problem.detail)],
                ),
                _ => problem,
            },
        )?;
        users.retain(|user| owners.binary_search(user).is_ok());
    }
    Ok(users)
}
