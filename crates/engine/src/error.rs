//! What can go wrong while loading or running a bot.

use ferrogram_core::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Templates or expressions of the bot file that do not compile, all of them.
    #[error("the bot's templates do not compile: {}", .0.join("; "))]
    Templates(Vec<String>),
    /// A template failed while rendering (undefined variable, out of fuel, …).
    #[error("template error: {0}")]
    Render(String),
    #[error("Bot API error: {0}")]
    Telegram(#[from] ferrogram_telegram::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An `http` or `feed` step got no usable answer (a network error, a timeout, a refused
    /// address, an open circuit, a body too large).
    #[error("{0}")]
    Http(String),
    /// A step that cannot run as written (a missing scene, a wrong value type, …).
    #[error("{0}")]
    Step(String),
    /// The user's roles do not allow a scene the steps went to (see `Scene::roles`): the update
    /// is refused and changes nothing.
    #[error("{0}")]
    Forbidden(String),
    #[error("no bot with handle {0}")]
    UnknownBot(u64),
    #[error("the bot has scenes but no `bot.start` scene")]
    NoStartScene,
    /// The update spent one of its budgets (steps, template fuel, time): it ends here, and a
    /// `try` does not catch it.
    #[error(transparent)]
    Budget(#[from] crate::interpret::budget::Exhausted),
    /// A bot file that does not pass validation: every diagnostic, warnings included.
    #[error("the bot file has errors: {}", errors(.0))]
    Invalid(Vec<ferrogram_schema::Diagnostic>),
}

fn errors(diagnostics: &[ferrogram_schema::Diagnostic]) -> String {
    let errors: Vec<String> = diagnostics.iter().filter(|d| d.is_error()).map(ToString::to_string).collect();
    errors.join("; ")
}

impl EngineError {
    /// What failed, in one word, as a `try`'s `catch` reads it in `error.kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            EngineError::Templates(_) | EngineError::Render(_) => "template",
            EngineError::Telegram(_) => "telegram",
            EngineError::Store(_) => "store",
            EngineError::Http(_) => "http",
            EngineError::Forbidden(_) => "forbidden",
            EngineError::Budget(_) => "budget",
            EngineError::Step(_) | EngineError::UnknownBot(_) | EngineError::NoStartScene | EngineError::Invalid(_) => {
                "step"
            }
        }
    }
}
