//! The built-in price simulator: a seeded random walk per symbol.
//!
//! Each update picks a symbol at random and moves its price by a small random
//! step in log space (so it can never go negative), with a gentle pull back
//! towards the opening price (so a session that runs for days stays plausible).
//! Prices are rounded to cents. The same seed and symbols give the same sequence
//! of symbols and prices, whatever the rate (as long as the machine keeps up
//! with it: see [`run`]).

use crate::{
    clock::now_ms,
    hub::{Hub, Tick},
    intake::broker::{Broker, LEASE, LEASE_EVERY},
    intake::publisher::Publisher,
};
use app::model::{Price, Quote, Symbol};
use prometheus_client::metrics::counter::Counter;
use rand::{Rng, SeedableRng, rngs::StdRng};
use rand_distr::StandardNormal;
use std::{sync::Arc, time::Duration};
use tokio::time::{self, Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// Opening price and relative volatility of well-known symbols.
const KNOWN: &[(&str, f64, f64)] = &[
    ("AAPL", 228.50, 1.0),
    ("MSFT", 415.20, 0.9),
    ("NVDA", 135.60, 2.0),
    ("GOOGL", 172.40, 1.1),
    ("AMZN", 198.10, 1.2),
    ("META", 575.30, 1.4),
    ("TSLA", 242.80, 2.5),
    ("JPM", 221.40, 0.8),
    ("V", 289.70, 0.7),
    ("XOM", 118.90, 0.9),
    ("WMT", 84.30, 0.6),
    ("KO", 62.10, 0.5),
];

/// Standard deviation of one step of log price, for relative volatility 1.
const STEP_SIGMA: f64 = 0.0008;
/// How strongly each step pulls the log price back to the opening price.
const MEAN_REVERSION: f64 = 0.001;
/// The smallest gap between two batches of updates; faster rates send several
/// updates per batch instead of waking up more often.
const MIN_PERIOD: Duration = Duration::from_millis(5);
/// How far behind its rate the simulator may fall and still catch up. Owing
/// more would make ever larger batches on a machine that cannot publish the
/// rate: memory without bound, the hub's lock held longer and longer, and a
/// shutdown that waits for the batch.
const MAX_BEHIND: Duration = Duration::from_millis(250);
/// How long the simulator must keep up before it says it does again.
const KEEPING_UP: Duration = Duration::from_secs(1);

/// The simulator's state: one random walk per symbol and the random source.
#[derive(Debug)]
pub struct Simulator {
    walks: Vec<Walk>,
    rng: StdRng,
}

#[derive(Debug)]
struct Walk {
    symbol: Symbol,
    log_open: f64,
    log_price: f64,
    volatility: f64,
}

impl Simulator {
    /// A simulator for `symbols`, reproducible from `seed`.
    ///
    /// Well-known symbols open near their real prices; others get an opening
    /// price between 10 and 500 drawn from the seed.
    pub fn new(symbols: &[Symbol], seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let walks = symbols
            .iter()
            .map(|symbol| {
                let (open, volatility) = KNOWN
                    .iter()
                    .find(|(known, ..)| *known == symbol.as_str())
                    .map(|&(_, open, volatility)| (open, volatility))
                    .unwrap_or_else(|| {
                        let open = round_cents(10.0 * 50f64.powf(rng.random::<f64>()));
                        (open, 1.0)
                    });
                Walk {
                    symbol: symbol.clone(),
                    log_open: open.ln(),
                    log_price: open.ln(),
                    volatility,
                }
            })
            .collect();
        Self { walks, rng }
    }

    /// Every symbol at its opening price, stamped `ts`.
    pub fn opening_quotes(&self, ts: u64) -> Vec<Quote> {
        self.walks
            .iter()
            .map(|walk| Quote::opening(walk.symbol.clone(), walk.price(), ts))
            .collect()
    }

    /// Continues each walk from its symbol's quote in `quotes` (the price it
    /// is at and the session's open), as a cluster's simulator does when it
    /// takes over from another instance.
    pub fn continue_from(&mut self, quotes: &[Quote]) {
        for walk in &mut self.walks {
            if let Some(quote) = quotes.iter().find(|quote| quote.symbol == walk.symbol) {
                walk.log_open = quote.open.get().ln();
                walk.log_price = quote.price.get().ln();
            }
        }
    }

    /// The next update: one symbol moves one step. `None` without symbols.
    pub fn step(&mut self) -> Option<(Symbol, Price)> {
        if self.walks.is_empty() {
            return None;
        }
        let i = self.rng.random_range(0..self.walks.len());
        let z: f64 = self.rng.sample(StandardNormal);
        let walk = &mut self.walks[i];
        let pull = MEAN_REVERSION * (walk.log_open - walk.log_price);
        walk.log_price += pull + STEP_SIGMA * walk.volatility * z;
        Some((walk.symbol.clone(), walk.price()))
    }
}

impl Walk {
    fn price(&self) -> Price {
        // Rounding to cents can reach zero only for a price under half a cent;
        // a cent is the floor.
        Price::new(round_cents(self.log_price.exp())).unwrap_or(Price::MIN_TICK)
    }
}

fn round_cents(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// Publishes `rate` updates per second from `simulator` through `publisher`
/// until `shutdown`; returns the simulator, to continue later.
///
/// Updates are paced against the clock: after a stall the simulator catches up
/// in one batch instead of drifting behind its rate. The updates that fall due
/// between two wake-ups are published together, in one batch (one announcement
/// to the streams), each stamped with the moment it fell due, so its `ts` is the
/// time it was meant to be published.
///
/// Updates that fell due more than [`MAX_BEHIND`] ago are skipped, never made:
/// on a machine that cannot keep up with `rate` the simulator publishes what it
/// can, fresh, and counts the rest in `skipped` (it says so in the log too).
pub async fn run(
    mut simulator: Simulator,
    publisher: Publisher,
    rate: f64,
    skipped: Counter,
    shutdown: CancellationToken,
) -> Simulator {
    let period = Duration::from_secs_f64(1.0 / rate).max(MIN_PERIOD);
    let max_owed = ((MAX_BEHIND.as_secs_f64() * rate).ceil() as u64).max(1);
    // Ticks count from the same instant as the updates owed, so that the update
    // due at a tick is published at that tick, not one later.
    let started = Instant::now();
    let started_ms = now_ms() as f64;
    let mut ticker = time::interval_at(started, period);
    // After a late tick, stay on the grid: a shifted grid would publish every
    // later update up to a period after it fell due.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut sent: u64 = 0;
    let mut batch = Vec::new();
    let mut failing = false;
    // While skipping: when it last skipped, and how many it has skipped.
    let mut behind: Option<(Instant, u64)> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        // Whole updates owed by now, counting from the start (a microsecond's
        // grace, so that rounding never leaves the update due now for later).
        let owed = ((started.elapsed().as_secs_f64() + 1e-6) * rate) as u64;
        if owed.saturating_sub(sent) > max_owed {
            let skip = owed - max_owed - sent;
            sent += skip;
            skipped.inc_by(skip);
            let total = behind.map_or(0, |(_, total)| total) + skip;
            if behind.is_none() {
                tracing::warn!(
                    rate,
                    "the simulator cannot keep up with its rate: it skips the updates \
                     due more than {MAX_BEHIND:?} ago (tickertape_simulator_skipped_total)"
                );
            }
            behind = Some((Instant::now(), total));
        } else if let Some((last, total)) = behind
            && last.elapsed() > KEEPING_UP
        {
            tracing::info!(
                skipped = total,
                "the simulator keeps up with its rate again"
            );
            behind = None;
        }
        while sent < owed {
            sent += 1;
            let Some((symbol, price)) = simulator.step() else {
                return simulator;
            };
            let due = started_ms + sent as f64 * 1000.0 / rate;
            batch.push(Tick {
                symbol,
                price,
                ts: due as u64,
            });
        }
        if batch.is_empty() {
            continue;
        }
        if let Err(error) = publisher.publish(std::mem::take(&mut batch)).await {
            // A broker that is down loses the simulated prices of meanwhile:
            // they are made up anyway. Said once per outage.
            if !failing {
                tracing::error!(%error, "could not publish simulated prices");
            }
            failing = true;
        } else {
            failing = false;
        }
    }
    tracing::debug!(sent, "simulator stopped");
    simulator
}

/// In a cluster: runs `simulator` (`rate` updates a second) while this
/// instance holds the cluster's lease, until `shutdown`. Its walks continue
/// from the cluster's latest prices (in `hub`) each time it takes the lease;
/// it gives the lease up as it stops.
pub async fn lead(
    broker: Arc<Broker>,
    hub: Arc<Hub>,
    simulator: Simulator,
    rate: f64,
    skipped: Counter,
    shutdown: CancellationToken,
) {
    let mut idle = Some(simulator);
    let mut running: Option<(CancellationToken, tokio::task::JoinHandle<Simulator>)> = None;
    let mut renewed = Instant::now();
    loop {
        let held = running.is_some();
        let result = broker.hold_lease(held).await;
        if matches!(result, Ok(true)) {
            renewed = Instant::now();
        }
        // Unreachable, a holder keeps simulating until its lease would have
        // run out (its batches fail meanwhile anyway).
        let holding =
            matches!(result, Ok(true)) || (held && result.is_err() && renewed.elapsed() < LEASE);
        match (holding, running.take(), idle.take()) {
            (true, None, Some(mut simulator)) => {
                tracing::info!(instance = %broker.instance(), "took the simulator's lease: simulating prices");
                simulator.continue_from(&hub.snapshot(&None).quotes);
                let stop = shutdown.child_token();
                let publisher = Publisher::Broker(broker.clone());
                let task = tokio::spawn(run(
                    simulator,
                    publisher,
                    rate,
                    skipped.clone(),
                    stop.clone(),
                ));
                running = Some((stop, task));
            }
            (false, Some((stop, task)), None) => {
                tracing::warn!(instance = %broker.instance(), "lost the simulator's lease: another instance simulates");
                stop.cancel();
                idle = task.await.ok();
            }
            (_, task, simulator) => {
                running = task;
                idle = simulator;
            }
        }
        broker.set_lease_holder(running.is_some());
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = time::sleep(LEASE_EVERY) => {}
        }
    }
    if let Some((stop, task)) = running {
        stop.cancel();
        let _ = task.await;
        broker.release_lease().await;
    }
    broker.set_lease_holder(false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Hub;
    use app::model::RunId;
    use std::sync::Arc;

    fn symbols(names: &[&str]) -> Vec<Symbol> {
        names.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn default_symbols() -> Vec<Symbol> {
        crate::config::DEFAULT_SYMBOLS
            .split(',')
            .map(|s| s.parse().unwrap())
            .collect()
    }

    fn run_steps(seed: u64, n: usize) -> Vec<(String, f64)> {
        let mut sim = Simulator::new(&default_symbols(), seed);
        (0..n)
            .map(|_| {
                let (symbol, price) = sim.step().unwrap();
                (symbol.to_string(), price.get())
            })
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_prices_and_another_seed_does_not() {
        assert_eq!(run_steps(42, 500), run_steps(42, 500));
        assert_ne!(run_steps(42, 500), run_steps(43, 500));
    }

    #[test]
    fn prices_stay_positive_plausible_and_in_cents_over_a_long_session() {
        let names = symbols(&["AAPL", "PENNY", "TSLA"]);
        let mut sim = Simulator::new(&names, 7);
        let opens: Vec<f64> = sim
            .opening_quotes(0)
            .iter()
            .map(|q| q.price.get())
            .collect();
        for _ in 0..300_000 {
            let (symbol, price) = sim.step().unwrap();
            let price = price.get();
            let open = opens[names.iter().position(|s| *s == symbol).unwrap()];
            assert!(price > 0.0);
            assert!(
                (price * 100.0 - (price * 100.0).round()).abs() < 1e-6,
                "{price}"
            );
            assert!(
                price > open * 0.7 && price < open * 1.4,
                "{symbol} wandered to {price} from {open}"
            );
        }
    }

    /// Runs the simulator at 1000 updates a second into a hub, on a paused
    /// clock; stalls it (the clock jumps while it cannot run) for `stall` after
    /// a first second; returns how many updates the stall's batch published and
    /// how many were skipped.
    async fn stalled_for(stall: Duration) -> (u64, u64) {
        let simulator = Simulator::new(&default_symbols(), 1);
        let hub = Arc::new(Hub::new(RunId(1), simulator.opening_quotes(0), 10_000));
        let publisher = Publisher::Hub(hub.clone());
        let (skipped, shutdown) = (Counter::default(), CancellationToken::new());
        let task = tokio::spawn(run(
            simulator,
            publisher,
            1000.0,
            skipped.clone(),
            shutdown.clone(),
        ));
        time::sleep(Duration::from_secs(1)).await;
        let before = hub.head().seq;
        time::advance(stall).await;
        // The simulator's next wake-up, and nothing after it.
        while hub.head().seq == before {
            tokio::task::yield_now().await;
        }
        let published = hub.head().seq - before;
        shutdown.cancel();
        task.await.unwrap();
        (published, skipped.get())
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_shorter_than_max_behind_is_caught_up_in_one_batch() {
        let (published, skipped) = stalled_for(Duration::from_millis(200)).await;
        assert!((200..=206).contains(&published), "{published} published");
        assert_eq!(skipped, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_longer_stall_the_updates_due_before_max_behind_are_skipped_and_counted() {
        let (published, skipped) = stalled_for(Duration::from_secs(3)).await;
        assert_eq!(published, 250, "the batch after the stall");
        assert!((2745..=2756).contains(&skipped), "{skipped} skipped");
    }

    #[test]
    fn unknown_symbols_get_a_plausible_opening_price() {
        let sim = Simulator::new(&symbols(&["ZZZZ"]), 1);
        let open = sim.opening_quotes(0)[0].price.get();
        assert!((10.0..=500.0).contains(&open), "{open}");
    }
}
