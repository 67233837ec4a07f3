//! [`Run`]: the one way the tests start the built `ferrogram` binary. It records what the child
//! is handed (arguments, environment, standard input) so that [`super::leaks`] knows its secrets,
//! and checks every line the child printed: at once for a run to its end ([`Run::output`]), when
//! the handle is dropped for a child writing to a log file ([`Run::spawn`]).

#![allow(dead_code)]

use std::io::Write;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use super::leaks;

const BINARY: &str = env!("CARGO_BIN_EXE_ferrogram");

/// `ferrogram ARGS` to be run.
#[derive(Clone, Default)]
pub struct Run {
    args: Vec<String>,
    env: Vec<(String, String)>,
    removed: Vec<String>,
    without_ferrogram_env: bool,
    dir: Option<PathBuf>,
    input: Option<String>,
    shell: Option<String>,
    secret_stdout: bool,
    within: Option<Duration>,
}

impl Run {
    pub fn new<S: AsRef<str>>(args: &[S]) -> Run {
        Run { args: args.iter().map(|arg| arg.as_ref().to_owned()).collect(), ..Run::default() }
    }

    pub fn args<S: AsRef<str>>(mut self, args: &[S]) -> Run {
        self.args.extend(args.iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Run {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn envs<N: AsRef<str>, V: AsRef<str>>(mut self, env: &[(N, V)]) -> Run {
        for (name, value) in env {
            self.env.push((name.as_ref().to_owned(), value.as_ref().to_owned()));
        }
        self
    }

    /// The test process's variable `name` is not passed on.
    pub fn env_remove(mut self, name: &str) -> Run {
        self.removed.push(name.to_owned());
        self
    }

    /// None of the test process's `FERROGRAM_*` variables is passed on.
    pub fn without_ferrogram_env(mut self) -> Run {
        self.without_ferrogram_env = true;
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Run {
        self.dir = Some(dir.to_owned());
        self
    }

    /// `text` is written to the child's standard input (else it reads nothing).
    pub fn input(mut self, text: &str) -> Run {
        self.input = Some(text.to_owned());
        self
    }

    /// Runs the binary as `sh -c SCRIPT BINARY ARGS…` (`"$0" "$@"` in the script is the
    /// command), e.g. under a `ulimit`.
    pub fn under_shell(mut self, script: &str) -> Run {
        self.shell = Some(script.to_owned());
        self
    }

    /// The standard output is what was asked for and may print a secret (`token issue`,
    /// `export --with-secrets`): it is not checked, and the tokens in it are registered for the
    /// checks that follow. The standard error still is checked.
    pub fn secret_stdout(mut self) -> Run {
        self.secret_stdout = true;
        self
    }

    /// [`Run::output`] panics when the child still runs after `limit` (and kills it).
    pub fn within(mut self, limit: Duration) -> Run {
        self.within = Some(limit);
        self
    }

    fn folder(&self) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| std::env::current_dir().expect("working folder"))
    }

    fn given(&self) -> Given {
        let (secrets, key_files) = leaks::given(&self.args, &self.env, self.input.as_deref(), &self.folder());
        Given { what: self.args.join(" "), secrets, key_files }
    }

    fn std_command(&self) -> std::process::Command {
        let mut command = match &self.shell {
            Some(script) => {
                let mut command = std::process::Command::new("sh");
                command.args(["-c", script, BINARY]);
                command
            }
            None => std::process::Command::new(BINARY),
        };
        command.args(&self.args);
        if self.without_ferrogram_env {
            for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("FERROGRAM_")) {
                command.env_remove(name);
            }
        }
        for name in &self.removed {
            command.env_remove(name);
        }
        command.envs(self.env.iter().map(|(name, value)| (name, value)));
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        command
    }

    /// Runs to its end; its output, every line checked for leaks (see [`Run::secret_stdout`]).
    pub fn output(self) -> Output {
        let given = self.given();
        let mut command = self.std_command();
        command.stdin(if self.input.is_some() { Stdio::piped() } else { Stdio::null() });
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("ferrogram runs");
        if let Some(input) = &self.input {
            // A child that exits without reading its input closes the pipe: not the test's error.
            let _ = child.stdin.take().expect("stdin").write_all(input.as_bytes());
        }
        if let Some(limit) = self.within {
            let deadline = Instant::now() + limit;
            while child.try_wait().expect("waits").is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("`ferrogram {}` still runs after {limit:?}", self.args.join(" "));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let output = child.wait_with_output().expect("ferrogram ran");
        let stdout = String::from_utf8_lossy(&output.stdout);
        if self.secret_stdout {
            leaks::tokens_in(&stdout).iter().for_each(|token| leaks::register(token));
        } else {
            given.assert_clean("stdout", &stdout);
        }
        given.assert_clean("stderr", &String::from_utf8_lossy(&output.stderr));
        output
    }

    /// Starts the binary, its standard output and error written to the file `log`, killed when
    /// the handle is dropped; the log is checked for leaks then, or by [`Guarded::check`].
    pub fn spawn(self, log: &Path) -> Guarded {
        let given = self.given();
        let file = std::fs::File::create(log).expect("log file");
        let mut command = tokio::process::Command::from(self.std_command());
        command.stdin(Stdio::null()).stdout(file.try_clone().expect("log file")).stderr(file).kill_on_drop(true);
        let child = command.spawn().expect("ferrogram starts");
        Guarded { child, log: log.to_owned(), given }
    }
}

/// What a child was handed: its secrets and the key files that hold one.
struct Given {
    what: String,
    secrets: Vec<String>,
    key_files: Vec<PathBuf>,
}

impl Given {
    fn assert_clean(&self, stream: &str, output: &str) {
        let mut secrets = self.secrets.clone();
        secrets.extend(leaks::key_file_secrets(&self.key_files));
        leaks::assert_clean(&format!("`ferrogram {}` ({stream})", self.what), output, &secrets);
    }
}

/// A running `ferrogram` whose log is checked for the tests' secrets when it is dropped (after
/// killing it and waiting for its end, so that every line is in the file). Derefs to its
/// [`tokio::process::Child`].
pub struct Guarded {
    child: tokio::process::Child,
    log: PathBuf,
    given: Given,
}

impl Guarded {
    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Checks the log so far for leaks, panicking on one.
    pub fn check(&self) {
        self.given.assert_clean(&format!("log {}", self.log.display()), &self.log());
    }
}

impl Deref for Guarded {
    type Target = tokio::process::Child;
    fn deref(&self) -> &tokio::process::Child {
        &self.child
    }
}

impl DerefMut for Guarded {
    fn deref_mut(&mut self) -> &mut tokio::process::Child {
        &mut self.child
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        // A test already failing keeps its own message (a second panic would abort).
        if !std::thread::panicking() {
            self.check();
        }
    }
}
