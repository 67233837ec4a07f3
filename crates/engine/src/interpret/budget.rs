//! What one update may spend: steps, template fuel and wall-clock time, counted across the
//! whole run (nested steps, every `for_each` iteration, `call`s, `goto`s and scene entries,
//! every template render), so loops that are each within their own limit cannot multiply past
//! it. The interpreter also hands its worker thread back to the runtime regularly, so a busy
//! handler never keeps a thread from the other bots, the sandbox and the time budget's abort.

use std::time::Duration;

/// Steps one update may run by default: every step started, and every `for_each` iteration.
pub const DEFAULT_UPDATE_STEPS: u64 = ferrogram_schema::DEFAULT_UPDATE_STEPS;
/// Template instructions one update may run by default, over all its renders.
pub const DEFAULT_UPDATE_FUEL: u64 = 20_000_000;
/// The longest a handler runs between two yields to the runtime (a single step, such as one
/// render, can run longer: it is bounded by the per-render fuel).
const YIELD_EVERY: Duration = Duration::from_millis(2);

/// The limits of one update (see [`crate::EngineConfig`]).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub steps: u64,
    pub fuel: u64,
    /// The update's time budget; the step loop checks it too (the dispatcher aborts at it).
    pub time: Duration,
}

/// Which budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Exhausted {
    #[error("the update ran more than its {0} steps (a loop too large?)")]
    Steps(u64),
    #[error("the update's templates ran more than their {0} instructions of fuel")]
    Fuel(u64),
    #[error("the update took longer than its {0:?} budget")]
    Time(Duration),
}

impl Exhausted {
    /// The budget's name, for logs: `steps`, `fuel` or `time`.
    pub fn budget(&self) -> &'static str {
        match self {
            Exhausted::Steps(_) => "steps",
            Exhausted::Fuel(_) => "fuel",
            Exhausted::Time(_) => "time",
        }
    }
}

/// What is left of one update's budget.
#[derive(Debug)]
pub struct Meter {
    limits: Limits,
    steps: u64,
    fuel: u64,
    deadline: tokio::time::Instant,
    last_yield: std::time::Instant,
}

impl Meter {
    /// A full budget, its time counted from now.
    pub fn start(limits: Limits) -> Meter {
        Meter {
            limits,
            steps: 0,
            fuel: 0,
            deadline: tokio::time::Instant::now() + limits.time,
            last_yield: std::time::Instant::now(),
        }
    }

    /// Counts one step; every [`YIELD_EVERY`] of running, yields to the runtime and checks the
    /// deadline. Call it before each step and each loop iteration.
    pub async fn step(&mut self) -> Result<(), Exhausted> {
        self.steps += 1;
        if self.steps > self.limits.steps {
            return Err(Exhausted::Steps(self.limits.steps));
        }
        if self.last_yield.elapsed() >= YIELD_EVERY {
            tokio::task::yield_now().await;
            self.last_yield = std::time::Instant::now();
            if tokio::time::Instant::now() >= self.deadline {
                return Err(Exhausted::Time(self.limits.time));
            }
        }
        Ok(())
    }

    /// Counts the template instructions of one render.
    pub fn fuel(&mut self, used: u64) -> Result<(), Exhausted> {
        self.fuel = self.fuel.saturating_add(used);
        if self.fuel > self.limits.fuel {
            return Err(Exhausted::Fuel(self.limits.fuel));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(steps: u64, fuel: u64) -> Limits {
        Limits { steps, fuel, time: Duration::from_secs(30) }
    }

    #[tokio::test]
    async fn steps_and_fuel_run_out() {
        let mut meter = Meter::start(limits(3, 100));
        for _ in 0..3 {
            meter.step().await.expect("within the steps");
        }
        assert_eq!(meter.step().await, Err(Exhausted::Steps(3)));
        meter.fuel(60).expect("within the fuel");
        assert_eq!(meter.fuel(41), Err(Exhausted::Fuel(100)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_is_checked_between_steps() {
        let mut meter = Meter::start(Limits { steps: u64::MAX, fuel: u64::MAX, time: Duration::from_secs(1) });
        meter.step().await.expect("in time");
        tokio::time::advance(Duration::from_secs(2)).await;
        // Busy for longer than a yield interval, so the next step yields and looks at the clock.
        std::thread::sleep(YIELD_EVERY);
        assert_eq!(meter.step().await, Err(Exhausted::Time(Duration::from_secs(1))));
    }
}
