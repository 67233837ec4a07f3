//! A property test of the interpreter: random step trees within the schema (nested `for_each`
//! over literal and computed lists, `if`, `try`, `set` with templates that burn fuel, `reply`,
//! `call` into a scene that may call itself) are run against the sandbox, and every update must
//! end, successfully or through the error handler, before its time budget runs out (so its step
//! or fuel budget ended it), with no panic.
//!
//! The generator is seeded: a failure names its case's seed, and
//! `FERROGRAM_FUZZ_SEED=<seed> cargo test -p ferrogram-engine --test interpreter_fuzz` runs the same cases
//! again. `FERROGRAM_FUZZ_CASES` changes how many are run.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{World, test_config};
use serde_json::{Value, json};
use tokio::time::Instant;

const DEFAULT_SEED: u64 = 0x00f3_1206;
const DEFAULT_CASES: usize = 50;
/// Nesting of generated step lists.
const MAX_DEPTH: u32 = 4;
/// The budgets of the test's engine: small, so that runaway cases end fast.
const STEPS: u64 = 5_000;
const FUEL: u64 = 1_000_000;
/// Every update must end before its time budget runs out: the step and fuel budgets end it
/// first. Steps differ in cost (a `call` inside `try` inside a scene that calls itself is among
/// the dearest, about 0.3 ms a step in a debug build: 1.5 s for the whole budget).
const TIME_BUDGET: Duration = Duration::from_secs(10);

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Random steps within the schema.
struct Generator {
    rng: fastrand::Rng,
}

impl Generator {
    fn steps(&mut self, depth: u32, in_loop: bool) -> Vec<Value> {
        (0..self.rng.usize(1..=3)).map(|_| self.step(depth, in_loop)).collect()
    }

    fn step(&mut self, depth: u32, in_loop: bool) -> Value {
        let kinds = if depth >= MAX_DEPTH { 3 } else { 7 };
        match self.rng.u8(0..kinds) {
            0 => json!({"set": {"user.c": "{{ (user.c + 1) % 1000 }}"}}),
            1 => json!({"set": {"user.s": self.burner()}}),
            // Replies only outside loops: the sandbox is not the subject here.
            2 if in_loop => json!({"set": {"user.c": "{{ item | default(0) }}"}}),
            2 => json!({"reply": "c={{ user.c }}"}),
            3 => json!({"for_each": {"in": self.list(), "do": self.steps(depth + 1, true)}}),
            4 => json!({"if": {
                "condition": "user.c % 2 == 0",
                "then": self.steps(depth + 1, in_loop),
                "else": self.steps(depth + 1, in_loop),
            }}),
            5 => json!({"try": {"do": self.steps(depth + 1, in_loop), "catch": self.steps(depth + 1, in_loop)}}),
            _ => json!({"call": "side"}),
        }
    }

    /// A list to loop over: written sizes from none to more than a loop visits, or one computed
    /// from a variable (which the validator cannot see).
    fn list(&mut self) -> String {
        match self.rng.u8(0..3) {
            0 => format!("range({})", [0, 1, 3, 10, 100, 1000, 5000][self.rng.usize(0..7)]),
            1 => "range(bot.n)".into(),
            _ => format!("range(bot.n // {})", self.rng.u32(1..=100)),
        }
    }

    /// A template that runs from a few to thousands of instructions, its output bounded.
    fn burner(&mut self) -> String {
        let n = [0, 10, 500, 3000][self.rng.usize(0..4)];
        format!("{{% for i in range({n}) %}}{{% if loop.last %}}{{{{ i }}}}{{% endif %}}{{% endfor %}}")
    }

    fn bot(&mut self) -> ferrogram_schema::BotFile {
        let side = [self.steps(1, false), vec![json!({"return": "any"})]].concat();
        let file = json!({
            "ferrogram": 1,
            "bot": {"name": "fuzz", "start": "home"},
            "variables": {
                "bot": {"n": {"type": "number", "default": 1000}},
                "user": {"c": {"type": "number"}, "s": {"type": "string"}},
            },
            "errors": {"reply": "budget"},
            "on": [{"command": "go", "do": self.steps(0, false)}],
            "scenes": {"home": {}, "side": {"on_enter": side}},
        });
        // Straight from the model, not through the validator: loops it would reject run too.
        serde_json::from_value(file).expect("generated steps fit the schema")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_step_trees_end_within_their_budget() {
    let seed = env_number("FERROGRAM_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let cases = env_number("FERROGRAM_FUZZ_CASES").map_or(DEFAULT_CASES, |n| n as usize);
    let panicked = Arc::new(AtomicBool::new(false));
    let hook = std::panic::take_hook();
    let seen = Arc::clone(&panicked);
    std::panic::set_hook(Box::new(move |info| {
        seen.store(true, Ordering::SeqCst);
        hook(info);
    }));

    let config = ferrogram_engine::EngineConfig {
        update_steps: STEPS,
        update_fuel: FUEL,
        update_budget: TIME_BUDGET,
        ..test_config()
    };
    let mut world = World::start(config).await;
    let mut generator = Generator { rng: fastrand::Rng::with_seed(seed) };
    let bot = world.bot_file(generator.bot()).await;
    let ann = world.user("Ann", "en").await;
    let mut handled = world.engine.handled(bot.handle).expect("bot runs");
    let mut slowest = Duration::ZERO;
    for case in 0..cases {
        let case_seed = seed.wrapping_add(case as u64);
        generator.rng = fastrand::Rng::with_seed(case_seed);
        let file = generator.bot();
        let yaml = serde_json::to_string(&file).expect("serializes");
        world.engine.reload(bot.handle, file).await.expect("reloads");
        let started = Instant::now();
        world.act(bot, "command", ann, json!({"command": "go"})).await;
        let target = case as u64 + 1;
        let ended = tokio::time::timeout(TIME_BUDGET, handled.wait_for(|n| *n >= target)).await;
        let took = started.elapsed();
        assert!(
            ended.is_ok(),
            "case {case} (FERROGRAM_FUZZ_SEED={case_seed} FERROGRAM_FUZZ_CASES=1) did not end within {TIME_BUDGET:?}: {yaml}"
        );
        assert!(!panicked.load(Ordering::SeqCst), "case {case} (seed {case_seed}) panicked: {yaml}");
        slowest = slowest.max(took);
    }
    eprintln!("{cases} random step trees from seed {seed}: the slowest update took {slowest:?}");
}
