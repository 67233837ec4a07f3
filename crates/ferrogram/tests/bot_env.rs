//! `--bot-env` and `FERROGRAM_BOT_ENV` through the built binary: under `ferrogram run`, the
//! file's `bot.token: ${NAME}` reads any variable but Ferrogram's own `FERROGRAM_*`, which only
//! when listed. The variables are set for the spawned binary only.

// Not every helper of the module is used here.
#[allow(dead_code)]
mod binary;

use std::process::Output;

use binary::TempFolder;

const TOKEN_VAR: &str = "FERROGRAM_BOT_ENV_CLI_TOKEN";

/// A fresh folder holding a bot file whose token is `${TOKEN_VAR}`, removed when dropped.
fn bot_folder(name: &str) -> TempFolder {
    let folder = TempFolder::new(&format!("bot-env-{name}"));
    let bot = format!("ferrogram: 1\nbot:\n  name: envy\n  token: ${{{TOKEN_VAR}}}\non: []\n");
    std::fs::write(folder.0.join("bot.yaml"), bot).unwrap();
    folder
}

impl TempFolder {
    /// `ferrogram run bot.yaml` with `args`, receiving by webhook on a free loopback port (so
    /// that a token read fails at its form, before any network call), with `env` set.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let file = self.0.join("bot.yaml").display().to_string();
        binary::Run::new(&["run", &file])
            .args(&["--database", &format!("sqlite://{}", self.0.join("bot.db").display())])
            .args(&["--webhook-url", "https://bots.example.com", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("FERROGRAM_DATABASE_URL")
            .env_remove("FERROGRAM_BOT_TOKEN")
            .env_remove("FERROGRAM_BOT_ENV")
            .envs(env)
            .output()
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn run_keeps_ferrogram_variables_from_the_bot_file_unless_listed() {
    let folder = bot_folder("refused");
    let output = folder.run(&[], &[(TOKEN_VAR, "the-server-s-secret")]);
    assert!(!output.status.success());
    let error = stderr(&output);
    assert!(
        error.contains(&format!("bot.token: bot files may not read the environment variable {TOKEN_VAR}")),
        "{error}"
    );
    assert!(error.contains(&format!("--bot-env {TOKEN_VAR}")), "{error}");
    assert!(!error.contains("the-server-s-secret"), "{error}");
}

#[test]
fn listed_variables_are_read_by_flag_or_environment() {
    let folder = bot_folder("listed");
    let by_flag = folder.run(&["--bot-env", TOKEN_VAR], &[(TOKEN_VAR, "not-a-token")]);
    let by_env = folder.run(&[], &[(TOKEN_VAR, "not-a-token"), ("FERROGRAM_BOT_ENV", &format!("OTHER,{TOKEN_VAR}"))]);
    for output in [by_flag, by_env] {
        // The value was read: it is refused for its form, after the variable was allowed.
        assert!(!output.status.success());
        let error = stderr(&output);
        assert!(error.contains("the bot token is not of the form BOT_ID:SECRET"), "{error}");
    }
}
