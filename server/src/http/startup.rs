//! Building the application and running it until shutdown.

use crate::{
    clock,
    config::Config,
    delivery::{
        engine::StreamSettings, guard::ConnectionSettings, limits::StreamLimits,
        listener::GuardedListener, serve, tls, writer::Writers,
    },
    http::{router, state::AppState},
    hub::Hub,
    intake::{broker::Broker, publisher::Publisher, simulator},
    metrics::Metrics,
};
use app::model::RunId;
use leptos::prelude::{LeptosOptions, get_configuration};
use std::{future::Future, io, net::SocketAddr, sync::Arc};
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// A configured server, bound to its listener and ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    state: AppState,
    /// The price simulator, unless prices come only from publishers.
    simulator: Option<simulator::Simulator>,
    config: Config,
}

impl Application {
    /// Prepares the server on `listener` with `config`.
    pub fn new(listener: TcpListener, config: Config) -> io::Result<Self> {
        let (state, simulator) = state(&config, listener.local_addr()?)?;
        Ok(Self {
            listener,
            state,
            simulator,
            config,
        })
    }

    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The hub, for tests to publish and look at the history.
    pub fn hub(&self) -> Arc<Hub> {
        self.state.hub.clone()
    }

    /// The counters operators read at `/metrics`.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.state.metrics.clone()
    }

    /// The stream limits, which count the open streams.
    pub fn limits(&self) -> Arc<StreamLimits> {
        self.state.limits.clone()
    }

    /// Serves until `shutdown` completes, then ends every stream and waits up to
    /// the configured grace period for connections to close.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> io::Result<()> {
        let Self {
            listener,
            state,
            simulator,
            config,
        } = self;
        // Cancelled when the server shuts down: the simulator stops, the hub
        // closes (which ends every stream) and the listener stops accepting.
        let token = CancellationToken::new();
        tokio::spawn({
            let token = token.clone();
            async move {
                shutdown.await;
                tracing::info!("shutting down");
                token.cancel();
            }
        });
        tokio::spawn(state.hub.clone().announce(token.clone()));
        // In a cluster, the state comes from the broker before any viewer does.
        if let Some(broker) = &state.broker {
            broker.join(&token).await;
            tokio::spawn(broker.clone().relay(token.clone()));
        }
        let simulator = simulator.map(|simulator| {
            let (rate, token) = (config.rate, token.clone());
            match state.broker.clone() {
                // One simulator per cluster: the instance holding the lease.
                Some(broker) => tokio::spawn(simulator::lead(
                    broker,
                    state.hub.clone(),
                    simulator,
                    rate,
                    state.metrics.simulator_skipped.clone(),
                    token,
                )),
                None => {
                    let publisher = Publisher::Hub(state.hub.clone());
                    let skipped = state.metrics.simulator_skipped.clone();
                    tokio::spawn(async move {
                        simulator::run(simulator, publisher, rate, skipped, token).await;
                    })
                }
            }
        });

        let tls = config
            .certificate()
            .as_ref()
            .map(tls::acceptor)
            .transpose()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!("listening on {scheme}://{}", listener.local_addr()?);
        let open_files = rlimit::getrlimit(rlimit::Resource::NOFILE)
            .ok()
            .map(|(soft, _)| soft);
        let idle = config.idle(open_files);
        if (idle.max_idle as u64) < config.max_idle_connections {
            tracing::warn!(
                max_idle = idle.max_idle,
                open_files,
                "--max-idle-connections lowered to a quarter of the open files limit"
            );
        }
        let settings = ConnectionSettings {
            stall_timeout: config.stall_timeout(),
            send_buffer: config.send_buffer(),
            idle,
            h2_ping_interval: config.h2_ping_interval(),
        };
        let listener = GuardedListener::new(listener, settings, state.metrics.clone());
        let connections = TaskTracker::new();
        let writers = Arc::new(Writers::new(
            state.hub.clone(),
            state.metrics.clone(),
            state.streams,
            settings.stall_timeout,
            connections.clone(),
        ));
        serve::serve(
            listener,
            router::app(state),
            writers,
            tls,
            token.clone(),
            connections.clone(),
        )
        .await;

        // Streams end as the hub closes; other connections finish what they
        // are answering. Past the grace period, run returns without them (and
        // the binary exits, which closes them).
        let grace = config.shutdown_grace();
        if tokio::time::timeout(grace, connections.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                ?grace,
                "connections still open after the grace period; closing them"
            );
        }
        if let Some(simulator) = simulator {
            let _ = simulator.await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Everything the handlers share, built from `config` for a server at `addr`,
/// and the price simulator unless it is turned off. With [`app`], a test can
/// answer requests without a socket.
pub fn state(
    config: &Config,
    addr: SocketAddr,
) -> io::Result<(AppState, Option<simulator::Simulator>)> {
    // Server rendering spawns its tasks on tokio (an error means it already
    // does, from an earlier `Application` in this process).
    let _ = any_spawner::Executor::init_tokio();
    let seed = config.seed.unwrap_or_else(rand::random);
    let simulator =
        (!config.no_simulator).then(|| simulator::Simulator::new(&config.symbols, seed));
    let opening = simulator
        .as_ref()
        .map(|simulator| simulator.opening_quotes(clock::now_ms()))
        .unwrap_or_default();
    // Ids carry the run, so an id from an earlier run is never taken for a
    // position in this one.
    let run = RunId(rand::random());
    // The simulator's symbols always fit.
    let max_symbols = usize::try_from(config.max_symbols)
        .unwrap_or(usize::MAX)
        .max(opening.len());
    let instance = config.instance();
    let metrics = Arc::new(Metrics::named(&instance));
    let hub = Arc::new(
        Hub::new(run, opening, config.history())
            .with_max_symbols(max_symbols)
            .with_coalescing(config.coalesce())
            .with_published_counter(metrics.published.clone())
            .with_rejected_counter(metrics.relay_rejected.clone()),
    );
    let limit = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let limits = Arc::new(StreamLimits::new(
        limit(config.max_streams),
        limit(config.max_streams_per_ip),
        metrics.clone(),
    ));
    // Leptos reads its other settings (LEPTOS_RELOAD_PORT, LEPTOS_ENV, ...) from the
    // environment; the address and site root are ours, so `--help` documents them.
    let mut leptos = leptos_options()?;
    warn_without_site(&config.site_root);
    leptos.output_name = env!("LEPTOS_OUTPUT_NAME").into();
    leptos.site_root = config.site_root.to_string_lossy().as_ref().into();
    leptos.site_addr = addr;
    tracing::info!(
        "tickertape {} starting run {run} with\n{config}",
        env!("CARGO_PKG_VERSION")
    );
    if config.seed.is_none() && simulator.is_some() {
        tracing::info!(
            seed,
            "random seed chosen; pass --seed {seed} to replay these prices"
        );
    }
    let broker = config
        .broker
        .as_ref()
        .map(|url| {
            Broker::new(
                url,
                config.broker_min_replicas(),
                &config.broker_prefix,
                instance.clone(),
                hub.clone(),
                metrics.clone(),
                config.history(),
            )
            .map(Arc::new)
        })
        .transpose()
        .map_err(|error| io::Error::other(format!("invalid --broker: {error}")))?;
    let publisher = match &broker {
        Some(broker) => Publisher::Broker(broker.clone()),
        None => Publisher::Hub(hub.clone()),
    };
    let state = AppState {
        hub,
        publisher,
        broker,
        instance: instance.into(),
        metrics,
        limits,
        streams: StreamSettings {
            retry: config.retry(),
            heartbeat: config.heartbeat(),
            // The window's own delay is not the stream's lateness.
            max_lag: config.max_lag() + config.coalesce(),
        },
        leptos,
        publish_token: config.publish_token.clone(),
        viewer_token: config.viewer_token.clone(),
        max_body: usize::try_from(config.max_body_bytes).unwrap_or(usize::MAX),
        body_timeout: config.idle(None).header_read_timeout,
        max_ts_skew: config.max_ts_skew(),
        trust_forwarded_for: config.trust_forwarded_for,
        cors_origins: config.cors_origins.clone().into(),
        hsts: !config.no_hsts,
    };
    Ok((state, simulator))
}

/// Warns when `site_root` holds no built front end: the page would be served
/// unstyled and never connect (a binary started outside the repository
/// finds no `target/site` relative to where it runs).
fn warn_without_site(site_root: &std::path::Path) {
    let wasm = site_root
        .join("pkg")
        .join(format!("{}.wasm", env!("LEPTOS_OUTPUT_NAME")));
    if !wasm.is_file() {
        let shown = std::path::absolute(site_root).unwrap_or_else(|_| site_root.to_owned());
        tracing::warn!(
            "no built front end at {} (no {}): the dashboard would be served without its \
             style and script and never connect; build it (make build) and start the server \
             from the repository, or pass --site-root (LEPTOS_SITE_ROOT) with the folder",
            shown.display(),
            wasm.strip_prefix(site_root).unwrap_or(&wasm).display()
        );
    }
}

/// Leptos's settings from its `LEPTOS_*` variables. `LEPTOS_SITE_ADDR` is also
/// `--addr`'s, which takes a host name (`localhost:3000`) that Leptos cannot
/// read: the address is ours anyway, so Leptos reads its others without it.
fn leptos_options() -> io::Result<LeptosOptions> {
    let invalid = |error| io::Error::other(format!("invalid LEPTOS_* setting: {error}"));
    match get_configuration(None) {
        Ok(conf) => Ok(conf.leptos_options),
        Err(error) => {
            let named_addr = std::env::var("LEPTOS_SITE_ADDR")
                .is_ok_and(|addr| addr.parse::<SocketAddr>().is_err());
            if !named_addr {
                return Err(invalid(error));
            }
            let env = match std::env::var("LEPTOS_ENV").as_deref() {
                Ok("PROD" | "prod" | "production") => leptos::config::Env::PROD,
                _ => leptos::config::Env::DEV,
            };
            let reload_port = std::env::var("LEPTOS_RELOAD_PORT")
                .map_or(Ok(3001), |port| port.parse())
                .map_err(|error| invalid(leptos::config::errors::LeptosConfigError::from(error)))?;
            Ok(LeptosOptions::builder()
                .output_name(env!("LEPTOS_OUTPUT_NAME"))
                .env(env)
                .reload_port(reload_port)
                .build())
        }
    }
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM. The handlers are in place when this
/// returns, not when the future is first polled: called before the server says
/// it listens, a signal sent the moment it does is a clean shutdown, not the
/// default action's abrupt end (a test that stopped a server at once saw it).
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind: SignalKind, name: &'static str| match signal(kind) {
            Ok(signal) => Some(signal),
            Err(error) => {
                tracing::error!(%error, "cannot listen for {name}");
                None
            }
        };
        let interrupt = listen(SignalKind::interrupt(), "Ctrl-C");
        let terminate = listen(SignalKind::terminate(), "SIGTERM");
        async move {
            let wait = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => _ = signal.recv().await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => {},
                () = wait(terminate) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    }
}
