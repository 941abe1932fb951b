//! `GET /healthz`: whether the instance serves, for load balancers and
//! people.

use crate::http::state::AppState;
use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};

/// The handler of `GET /healthz`: the process is up and serving, and names
/// itself. In a cluster, `503` while the broker cannot be reached, saying why
/// (streams stay open meanwhile, and the instance catches up when it is back).
pub async fn healthz(State(state): State<AppState>) -> Response {
    let mut body = serde_json::json!({ "status": "ok", "instance": &*state.instance });
    let Some(broker) = &state.broker else {
        return Json(body).into_response();
    };
    let health = broker.health();
    let head = state.hub.head();
    body["broker"] = serde_json::json!({
        "reachable": health.reachable,
        "epoch": head.run.to_string(),
        "relayed": head.to_string(),
        "lag": state.metrics.broker_lag.get(),
        "primary": health.primary,
        "minReplicas": health.min_replicas,
        "lastChange": health.last_change,
    });
    if let Some(problem) = health.problem {
        body["status"] = "unavailable".into();
        body["problem"] = problem.into();
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    Json(body).into_response()
}
