//! Building the application and running it until shutdown.

use crate::{api, config::Config, feed, hub::Hub, listener::StallGuardListener, sse};
use app::model::RunId;
use app::shell;
use axum::{Router, extract::FromRef, routing::get};
use leptos::prelude::{LeptosOptions, get_configuration, provide_context};
use std::{future::Future, io, net::SocketAddr, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    services::ServeDir,
    trace::TraceLayer,
};

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The fan-out of prices.
    pub hub: Arc<Hub>,
    /// The base of every stream's `retry:` delay (each gets it with jitter).
    pub retry: Duration,
    /// The interval between heartbeats.
    pub heartbeat: Duration,
    /// Cancelled when the server shuts down; ends every stream.
    pub shutdown: CancellationToken,
    /// Leptos's settings, for rendering pages and serving the built site.
    pub leptos: LeptosOptions,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// A configured server, bound to its listener and ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    state: AppState,
    simulator: feed::Simulator,
    config: Config,
}

impl Application {
    /// Prepares the server on `listener` with `config`.
    pub fn new(listener: TcpListener, config: Config) -> io::Result<Self> {
        // Server rendering spawns its tasks on tokio (an error means it already
        // does, from an earlier `Application` in this process).
        let _ = any_spawner::Executor::init_tokio();
        let addr = listener.local_addr()?;
        let seed = config.seed.unwrap_or_else(rand::random);
        let simulator = feed::Simulator::new(&config.symbols, seed);
        // Ids carry the run, so an id from an earlier run is never taken for a
        // position in this one.
        let run = RunId(rand::random());
        let hub = Arc::new(Hub::new(
            run,
            simulator.opening_quotes(feed::now_ms()),
            config.history(),
        ));
        // Leptos reads its other settings (LEPTOS_RELOAD_PORT, LEPTOS_ENV, ...) from the
        // environment; the address and site root are ours, so `--help` documents them.
        let mut leptos = get_configuration(None)
            .map_err(|error| io::Error::other(format!("invalid LEPTOS_* setting: {error}")))?
            .leptos_options;
        leptos.output_name = env!("LEPTOS_OUTPUT_NAME").into();
        leptos.site_root = config.site_root.to_string_lossy().as_ref().into();
        leptos.site_addr = addr;
        tracing::info!(
            "tickertape {} starting run {run} with\n{config}",
            env!("CARGO_PKG_VERSION")
        );
        if config.seed.is_none() {
            tracing::info!(
                seed,
                "random seed chosen; pass --seed {seed} to replay these prices"
            );
        }
        let state = AppState {
            hub,
            retry: config.retry(),
            heartbeat: config.heartbeat(),
            shutdown: CancellationToken::new(),
            leptos,
        };
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

    /// The hub, for tests to watch subscribers.
    pub fn hub(&self) -> Arc<Hub> {
        self.state.hub.clone()
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
        let token = state.shutdown.clone();
        let simulator = tokio::spawn(feed::run(
            simulator,
            state.hub.clone(),
            config.rate,
            token.clone(),
        ));
        tokio::spawn({
            let token = token.clone();
            async move {
                shutdown.await;
                tracing::info!("shutting down");
                token.cancel();
            }
        });

        tracing::info!("listening on http://{}", listener.local_addr()?);
        let listener = StallGuardListener::new(listener, config.stall_timeout(), state.hub.clone());
        let server = axum::serve(listener, router(state, &config))
            .with_graceful_shutdown(token.clone().cancelled_owned());

        let grace = config.shutdown_grace();
        let result = tokio::select! {
            result = server => result,
            () = async { token.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(?grace, "connections still open after the grace period; closing them");
                Ok(())
            }
        };
        token.cancel();
        let _ = simulator.await;
        tracing::info!("stopped");
        result
    }
}

/// The routes: the dashboard, the stream, the API and the built site's files.
pub fn router(state: AppState, config: &Config) -> Router {
    let feed = Router::new()
        .route("/events", get(sse::events))
        .route("/api/snapshot", get(api::snapshot))
        .route("/api/stats", get(api::stats))
        .layer(cors(config));

    let hub = state.hub.clone();
    let leptos = state.leptos.clone();
    let site = ServeDir::new(&*state.leptos.site_root);
    let dashboard = leptos_axum::render_app_to_stream_with_context(
        move || provide_context(hub.snapshot(&None)),
        move || shell(leptos.clone()),
    );
    Router::new()
        .route("/", get(dashboard))
        .merge(feed)
        .fallback_service(site)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// A public read-only feed: any origin may read it, unless origins are listed.
fn cors(config: &Config) -> CorsLayer {
    let origins = if config.cors_origins.is_empty() {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(config.cors_origins.iter().map(|o| o.header_value()))
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([axum::http::Method::GET])
        .allow_headers([axum::http::HeaderName::from_static("last-event-id")])
}

/// Completes on Ctrl-C or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => _ = signal.recv().await,
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
