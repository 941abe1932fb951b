//! The routes: the dashboard, the stream, the API, the operators' endpoints
//! and the built site's files, with the layers around them (viewer token,
//! CORS, security headers, logging).

use crate::{
    config::Origin,
    http::{access, candles, error, events, health, prices, snapshot, state::AppState, stats},
    metrics,
};
use app::{model::route, page::Pacing, shell};
use axum::{
    Router,
    extract::Request,
    http::{HeaderName, HeaderValue, Method, header},
    middleware,
    routing::{get, post},
};
use leptos::prelude::{provide_context, use_context};
use leptos_axum::ResponseOptions;
use tower_http::{
    cors::{AllowCredentials, AllowOrigin, CorsLayer},
    services::ServeDir,
    set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};

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
        .route(route::SNAPSHOT, get(snapshot::snapshot))
        .route(route::CANDLES, get(candles::candles))
        .route(route::STATS, get(stats::stats))
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
