//! What the operator does with dead letters (updates the engine set aside, see
//! `ferrogram_core::DeadLetter`): list them, retry one, discard one. `ferrogram dead-letters` is built
//! on these, and so can an API be.

use ferrogram_core::StoredDeadLetter;

use crate::{Error, Result, Store};

impl Store {
    /// Puts the dead letter `id` back in its bot's inbox as an unhandled update with no attempts
    /// and forgets the letter, in one transaction: the bot handles it again at its next start
    /// (a running bot replays only when it starts). Refused, changing nothing, when there is no
    /// such letter or an unhandled update with other content holds its update id.
    pub async fn dead_letter_retry(&self, id: i64) -> Result<StoredDeadLetter> {
        let mut tx = self.transaction().await?;
        let letter = tx.conn().dead_letter(id).await?.ok_or_else(|| Error::Refused(format!("no dead letter {id}")))?;
        let bot = crate::ops::int("bot id", letter.bot)?;
        let update_id = letter.letter.update_id;
        if !tx.conn().inbox_put_back(bot, update_id, &letter.letter.raw).await? {
            return Err(Error::Refused(format!(
                "the inbox holds another unhandled update with id {update_id}: retry once it is handled"
            )));
        }
        tx.conn().dead_letter_discard(id).await?;
        tx.commit().await?;
        Ok(letter)
    }
}
