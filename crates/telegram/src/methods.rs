//! Typed Bot API methods over frankenstein's parameter and result types.
//!
//! Each is a thin wrapper over [`Client::call`] or [`Client::call_with_uploads`]; methods not
//! listed here are reachable through those two with the same types.

use frankenstein::methods::{
    AnswerCallbackQueryParams, AnswerInlineQueryParams, CopyMessageParams, DeleteMessageParams, DeleteWebhookParams,
    EditMessageReplyMarkupParams, EditMessageTextParams, ForwardMessageParams, GetChatMemberParams, GetChatParams,
    GetFileParams, GetUpdatesParams, PinChatMessageParams, SendChatActionParams, SendDiceParams, SendDocumentParams,
    SendLocationParams, SendMediaGroupParams, SendMessageParams, SendPhotoParams, SendPollParams, SetMyCommandsParams,
    SetWebhookParams, StopPollParams,
};
use frankenstein::response::MessageOrBool;
use frankenstein::types::{ChatFullInfo, ChatMember, File, Message, MessageId, Poll, User};
use frankenstein::updates::WebhookInfo;
use serde_json::Value;

use crate::Error;
use crate::client::{Client, decode};
use crate::updates::IncomingUpdate;
use crate::upload::{Request, Upload};

impl Client {
    pub async fn get_me(&self) -> Result<User, Error> {
        self.call("getMe", &()).await
    }

    /// Fetches updates, decoding each one on its own (see [`IncomingUpdate`]).
    pub async fn get_updates(&self, params: &GetUpdatesParams) -> Result<Vec<IncomingUpdate>, Error> {
        let raw: Vec<Value> = self.call("getUpdates", params).await?;
        Ok(IncomingUpdate::from_batch(raw))
    }

    /// Sets a webhook. `params.certificate` names a local path, which this client does not
    /// read; use [`Client::set_webhook_with_certificate`] to upload a certificate.
    pub async fn set_webhook(&self, params: &SetWebhookParams) -> Result<bool, Error> {
        if params.certificate.is_some() {
            return Err(Error::InvalidRequest(
                "setWebhook: pass the certificate as an Upload to set_webhook_with_certificate".into(),
            ));
        }
        self.call("setWebhook", params).await
    }

    /// Sets a webhook with a self-signed public key certificate uploaded from memory.
    pub async fn set_webhook_with_certificate(
        &self,
        params: &SetWebhookParams,
        certificate: Upload,
    ) -> Result<bool, Error> {
        let mut request = Request::new("setWebhook", params)?;
        request.set_param("certificate", Value::String(certificate.attach_url()));
        request.push_upload(certificate);
        decode("setWebhook", self.execute(&request).await?)
    }

    pub async fn delete_webhook(&self, params: &DeleteWebhookParams) -> Result<bool, Error> {
        self.call("deleteWebhook", params).await
    }

    pub async fn get_webhook_info(&self) -> Result<WebhookInfo, Error> {
        self.call("getWebhookInfo", &()).await
    }

    pub async fn send_message(&self, params: &SendMessageParams) -> Result<Message, Error> {
        self.call("sendMessage", params).await
    }

    /// The edited message, or `true` for an inline message.
    pub async fn edit_message_text(&self, params: &EditMessageTextParams) -> Result<MessageOrBool, Error> {
        self.call("editMessageText", params).await
    }

    /// The edited message, or `true` for an inline message.
    pub async fn edit_message_reply_markup(
        &self,
        params: &EditMessageReplyMarkupParams,
    ) -> Result<MessageOrBool, Error> {
        self.call("editMessageReplyMarkup", params).await
    }

    pub async fn delete_message(&self, params: &DeleteMessageParams) -> Result<bool, Error> {
        self.call("deleteMessage", params).await
    }

    pub async fn answer_callback_query(&self, params: &AnswerCallbackQueryParams) -> Result<bool, Error> {
        self.call("answerCallbackQuery", params).await
    }

    pub async fn answer_inline_query(&self, params: &AnswerInlineQueryParams) -> Result<bool, Error> {
        self.call("answerInlineQuery", params).await
    }

    /// Sends a photo: `params.photo` is a file_id, a URL, or [`Upload::attach`] of one of
    /// `uploads` (the thumbnail-less methods take at most one).
    pub async fn send_photo(&self, params: &SendPhotoParams, uploads: &[Upload]) -> Result<Message, Error> {
        self.call_with_uploads("sendPhoto", params, uploads).await
    }

    /// Sends a document; `document` and `thumbnail` may refer to `uploads`.
    pub async fn send_document(&self, params: &SendDocumentParams, uploads: &[Upload]) -> Result<Message, Error> {
        self.call_with_uploads("sendDocument", params, uploads).await
    }

    /// Sends an album; each item's `media` may refer to one of `uploads`.
    pub async fn send_media_group(
        &self,
        params: &SendMediaGroupParams,
        uploads: &[Upload],
    ) -> Result<Vec<Message>, Error> {
        self.call_with_uploads("sendMediaGroup", params, uploads).await
    }

    pub async fn send_poll(&self, params: &SendPollParams) -> Result<Message, Error> {
        self.call("sendPoll", params).await
    }

    pub async fn stop_poll(&self, params: &StopPollParams) -> Result<Poll, Error> {
        self.call("stopPoll", params).await
    }

    pub async fn send_dice(&self, params: &SendDiceParams) -> Result<Message, Error> {
        self.call("sendDice", params).await
    }

    pub async fn send_chat_action(&self, params: &SendChatActionParams) -> Result<bool, Error> {
        self.call("sendChatAction", params).await
    }

    pub async fn send_location(&self, params: &SendLocationParams) -> Result<Message, Error> {
        self.call("sendLocation", params).await
    }

    pub async fn copy_message(&self, params: &CopyMessageParams) -> Result<MessageId, Error> {
        self.call("copyMessage", params).await
    }

    pub async fn forward_message(&self, params: &ForwardMessageParams) -> Result<Message, Error> {
        self.call("forwardMessage", params).await
    }

    pub async fn set_my_commands(&self, params: &SetMyCommandsParams) -> Result<bool, Error> {
        self.call("setMyCommands", params).await
    }

    pub async fn get_chat(&self, params: &GetChatParams) -> Result<ChatFullInfo, Error> {
        self.call("getChat", params).await
    }

    pub async fn get_chat_member(&self, params: &GetChatMemberParams) -> Result<ChatMember, Error> {
        self.call("getChatMember", params).await
    }

    /// File metadata; pass its `file_path` to [`Client::download_file`].
    pub async fn get_file(&self, params: &GetFileParams) -> Result<File, Error> {
        self.call("getFile", params).await
    }

    pub async fn pin_chat_message(&self, params: &PinChatMessageParams) -> Result<bool, Error> {
        self.call("pinChatMessage", params).await
    }
}
