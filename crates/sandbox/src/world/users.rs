//! The users of the emulated Telegram, created through the control API, the web chat or the
//! telegram-test-api routes.

use super::State;
use crate::error::{ApiError, ApiResult};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRec {
    pub id: i64,
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub language_code: Option<String>,
}

impl State {
    pub fn user(&self, id: i64) -> ApiResult<&UserRec> {
        self.users.get(&id).ok_or_else(|| ApiError::bad_request(format!("user {id} not found")))
    }

    pub fn create_user(&mut self, mut user: UserRec) -> ApiResult<UserRec> {
        if user.first_name.trim().is_empty() {
            return Err(ApiError::bad_request("first_name is empty"));
        }
        if user.id == 0 {
            while self.users.contains_key(&self.next_user_id) || self.bots.contains_key(&self.next_user_id) {
                self.next_user_id += 1;
            }
            user.id = self.next_user_id;
            self.next_user_id += 1;
        } else if user.id < 0 || self.users.contains_key(&user.id) || self.bots.contains_key(&user.id) {
            return Err(ApiError::bad_request(format!("user id {} is taken or invalid", user.id)));
        }
        self.users.insert(user.id, user.clone());
        Ok(user)
    }
}
