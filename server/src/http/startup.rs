//! Building the application and running it until shutdown.

use crate::{
    clock,
    config::{Config, Origin},
    delivery::engine::StreamSettings,
    delivery::guard::ConnectionSettings,
    delivery::limits::StreamLimits,
    delivery::listener::GuardedListener,
    delivery::serve,
    delivery::tls,
    delivery::writer::Writers,
    http::access,
    http::api,
    http::error,
    http::events,
    http::health,
    http::prices,
    http::state::AppState,
    hub::Hub,
    intake::broker::Broker,
    intake::feed,
    intake::publisher::Publisher,
    metrics::{self, Metrics},
};
use app::{
    model::{RunId, route},
    page::Pacing,
    shell,
};
use axum::{
    Router,
    extract::Request,
    http::{HeaderName, HeaderValue, Method, header},
    middleware,
    routing::{get, post},
};
use leptos::prelude::{LeptosOptions, get_configuration, provide_context, use_context};
use leptos_axum::ResponseOptions;
use std::{future::Future, io, net::SocketAddr, sync::Arc};
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower_http::{
    cors::{AllowCredentials, AllowOrigin, CorsLayer},
    services::ServeDir,
    set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};

/// A configured server, bound to its listener and ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    state: AppState,
    /// The price simulator, unless prices come only from publishers.
    simulator: Option<feed::Simulator>,
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
                Some(broker) => tokio::spawn(feed::lead(
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
                        feed::run(simulator, publisher, rate, skipped, token).await;
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
            app(state),
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
pub fn state(config: &Config, addr: SocketAddr) -> io::Result<(AppState, Option<feed::Simulator>)> {
    // Server rendering spawns its tasks on tokio (an error means it already
    // does, from an earlier `Application` in this process).
    let _ = any_spawner::Executor::init_tokio();
    let seed = config.seed.unwrap_or_else(rand::random);
    let simulator = (!config.no_simulator).then(|| feed::Simulator::new(&config.symbols, seed));
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
                url.as_str(),
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

/// The routes: the dashboard, the stream, the API and the built site's files.
///
/// `/`, `/events` and the read API need the viewer token when one is set;
/// `/api/prices` has its own (publish) token; `/healthz`, `/metrics` and the
/// site's static files are open (put `/metrics` behind the proxy's rules).
pub fn app(state: AppState) -> Router {
    let viewer = middleware::from_fn_with_state(state.clone(), access::require_viewer);
    // CORS is outside the viewer check: a preflight is answered before any
    // token is asked for (it never carries one), and a 401 carries
    // `Access-Control-Allow-Origin`, so the allowed sites can read why.
    let api = Router::new()
        .route(route::SNAPSHOT, get(api::snapshot))
        .route(route::STATS, get(api::stats))
        .route_layer(viewer.clone())
        .layer(cors(&state.cors_origins));
    // Streams are not traced: the layer wraps the body and would be polled on
    // every write of every stream (it was 2 % of the CPU at 10 000 viewers);
    // the stream logs its own opening, refusal and end.
    let stream = Router::new()
        .route(route::EVENTS, get(events::events))
        .route_layer(viewer.clone())
        .layer(cors(&state.cors_origins));

    let hub = state.hub.clone();
    let retry_ms = u64::try_from(state.streams.retry.as_millis()).unwrap_or(u64::MAX);
    let leptos = state.leptos.clone();
    let site = ServeDir::new(&*state.leptos.site_root).not_found_service(
        axum::handler::HandlerWithoutStateExt::into_service(error::not_found),
    );
    let dashboard = leptos_axum::render_app_to_stream_with_context(
        move || {
            provide_context(hub.snapshot(&None));
            provide_context(Pacing { retry_ms });
            // The page's policy allows exactly the inline scripts it renders.
            if let Some(response) = use_context::<ResponseOptions>() {
                let nonce = leptos::nonce::use_nonce();
                for (name, value) in access::page_headers(nonce.as_ref().map(|n| &**n.as_inner())) {
                    response.insert_header(name, value);
                }
            }
        },
        move || shell(leptos.clone()),
    );
    let viewers = Router::new().route("/", get(dashboard)).route_layer(viewer);
    let traced = Router::new()
        .merge(viewers)
        .merge(api)
        .route(route::PRICES, post(prices::publish))
        .route(route::METRICS, get(metrics::metrics))
        .route(route::HEALTHZ, get(health::healthz))
        .fallback_service(site)
        // The path only: a query may carry the viewer token, which is never logged.
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
        }));
    let hsts = middleware::from_fn_with_state(state.clone(), access::transport_security);
    Router::new()
        .merge(traced)
        .merge(stream)
        .layer(hsts)
        .layer(middleware::from_fn(error::json_405))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .with_state(state)
}

/// Who may read the feed from other sites. With origins listed, only those, and
/// they may send credentials (the viewer cookie); otherwise any origin may read
/// the public feed, without credentials.
fn cors(origins: &[Origin]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::HEAD])
        .allow_headers([
            HeaderName::from_static("last-event-id"),
            header::AUTHORIZATION,
        ]);
    if origins.is_empty() {
        layer.allow_origin(AllowOrigin::any())
    } else {
        let listed: Vec<HeaderValue> = origins.iter().map(|o| o.header_value()).collect();
        let credentials = listed.clone();
        layer
            .allow_origin(AllowOrigin::list(listed))
            .allow_credentials(AllowCredentials::predicate(move |origin, _| {
                credentials.contains(origin)
            }))
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
