//! Who may view: the optional viewer token, and the security headers of pages.
//!
//! With `--viewer-token` set, `/`, `/api/snapshot`, `/api/stats` and `/events`
//! need it. A browser's `EventSource` cannot send headers, so the token is given
//! once in the link (`/?token=…`) and the server turns it into an HttpOnly,
//! SameSite cookie that every later request (the stream included) carries; the
//! page's address loses the token at once. Programs may send
//! `Authorization: Bearer <token>` instead. Tokens are compared in constant time
//! and never logged (the request log records paths without their query).

use crate::{
    delivery::listener::Connection, http::error::ApiError, http::prices::bearer,
    http::state::AppState,
};
use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    middleware::Next,
    response::{Html, IntoResponse, Redirect, Response},
};

/// The cookie that carries the viewer token.
pub const COOKIE: &str = "tickertape_token";

/// How long the cookie lasts, in seconds (30 days).
const COOKIE_MAX_AGE: u64 = 30 * 24 * 3600;

/// Middleware: lets a request through when no viewer token is configured or it
/// carries the token; answers 401 otherwise.
pub async fn require_viewer(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &state.viewer_token else {
        return next.run(request).await;
    };
    let page = request.uri().path() == "/";
    if let Some(offered) = query_token(request.uri()) {
        if !token.matches(offered.as_bytes()) {
            return refuse(
                page,
                "The access token in this link is not valid. Ask for a new link.",
            );
        }
        let cookie = cookie(token.expose(), is_https(&request));
        // A page: drop the token from the address bar (and the history) at once.
        if page && request.method() == Method::GET {
            let mut response = Redirect::to(&without_token(request.uri())).into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            return response;
        }
        let mut response = next.run(request).await;
        response.headers_mut().append(header::SET_COOKIE, cookie);
        return response;
    }
    let headers = request.headers();
    let carried = bearer(headers).or_else(|| cookie_token(headers));
    if carried.is_some_and(|offered| token.matches(offered.as_bytes())) {
        return next.run(request).await;
    }
    let why = if carried.is_some() {
        "The access token you have is no longer valid. Open the dashboard's link again."
    } else {
        "This dashboard needs an access token. Open the link you were given, which ends in ?token=…"
    };
    refuse(page, why)
}

/// 401: a page that says why for people, a JSON error for programs.
fn refuse(page: bool, why: &str) -> Response {
    if page {
        let body = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>tickertape: access token needed</title>\
             <link rel=\"stylesheet\" href=\"/pkg/tickertape.css\"></head>\
             <body><main class=\"denied\"><h1>Access token needed</h1>\
             <p data-testid=\"denied\">{why}</p></main></body></html>"
        );
        return (StatusCode::UNAUTHORIZED, page_headers(None), Html(body)).into_response();
    }
    ApiError::unauthorized("tickertape", why).into_response()
}

/// The `token` query parameter, if any, percent-decoded. A `+` is a `+`
/// (tokens may hold one, and never a space), whether sent raw or as `%2B`:
/// form decoding would turn a pasted link's `+` into a space.
fn query_token(uri: &Uri) -> Option<String> {
    let query = uri.query()?;
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (name == "token").then(|| {
            percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// Whether the request came over HTTPS: this instance's own TLS, or a proxy
/// that says so (`X-Forwarded-Proto: https`).
pub fn is_https(request: &Request) -> bool {
    let own = request
        .extensions()
        .get::<ConnectInfo<Connection>>()
        .is_some_and(|ConnectInfo(connection)| connection.tls);
    own || request
        .headers()
        .get("x-forwarded-proto")
        .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// The `Strict-Transport-Security` value: browsers use HTTPS only for this
/// site for a year.
const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000");

/// Middleware: `Strict-Transport-Security` on every HTTPS answer, unless
/// `--no-hsts`.
pub async fn transport_security(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let https = state.hsts && is_https(&request);
    let mut response = next.run(request).await;
    if https {
        response
            .headers_mut()
            .entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert(HSTS);
    }
    response
}

/// `uri`'s path and query without the `token` parameter.
fn without_token(uri: &Uri) -> String {
    let kept: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .filter(|(name, _)| name != "token")
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    if kept.is_empty() {
        return uri.path().to_owned();
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish();
    format!("{}?{query}", uri.path())
}

/// The token in the request's cookie, if any.
fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// The `Set-Cookie` value holding `token`: HttpOnly (no script reads it),
/// SameSite=Lax (sent when a link is followed, not by other sites' requests),
/// Secure when the request came over HTTPS ([`is_https`]).
fn cookie(token: &str, https: bool) -> HeaderValue {
    let secure = if https { "; Secure" } else { "" };
    let value = format!(
        "{COOKIE}={token}; Path=/; Max-Age={COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax{secure}"
    );
    // Tokens are checked to be header-safe when configured.
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""))
}

/// The security headers of an HTML page. `nonce` is the one its inline scripts
/// carry; without it, the page may run no script at all.
///
/// The dashboard needs: its own scripts and the hydration script (by nonce),
/// WebAssembly compilation (`'wasm-unsafe-eval'`), its stylesheet, fetches and
/// the stream to its own origin, and inline SVG. During `cargo leptos watch`
/// the live-reload socket is allowed as well.
pub fn page_headers(nonce: Option<&str>) -> [(header::HeaderName, HeaderValue); 1] {
    let script = match nonce {
        Some(nonce) => format!("script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'"),
        None => "script-src 'none'".to_owned(),
    };
    let reload = if std::env::var_os("LEPTOS_WATCH").is_some() {
        " ws: wss:"
    } else {
        ""
    };
    let policy = format!(
        "default-src 'self'; {script}; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'{reload}; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    );
    [(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static("default-src 'self'")),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_read_from_the_query_and_dropped_from_the_address() {
        let uri: Uri = "/?a=1&token=s3cr%2Bt&b=2".parse().unwrap();
        assert_eq!(query_token(&uri).as_deref(), Some("s3cr+t"));
        assert_eq!(without_token(&uri), "/?a=1&b=2");
        assert_eq!(without_token(&"/?token=x".parse().unwrap()), "/");
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; tickertape_token=abc; b=2"),
        );
        assert_eq!(cookie_token(&headers), Some("abc"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("tickertape_tokenx=abc"),
        );
        assert_eq!(cookie_token(&headers), None);
    }

    #[test]
    fn the_cookie_is_http_only_and_same_site_and_secure_over_https() {
        let plain = cookie("t0ken", false);
        assert_eq!(
            plain,
            "tickertape_token=t0ken; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax"
        );
        assert!(
            cookie("t0ken", true)
                .to_str()
                .unwrap()
                .ends_with("; Secure")
        );
    }

    #[test]
    fn https_is_the_servers_own_tls_or_a_proxys_word() {
        let request = |tls: bool, proto: Option<&'static str>| {
            let mut request = Request::new(axum::body::Body::empty());
            let connection = Connection {
                peer: "127.0.0.1:1".parse().unwrap(),
                delivery: crate::delivery::listener::Delivery::Writers,
                tls,
            };
            request.extensions_mut().insert(ConnectInfo(connection));
            if let Some(proto) = proto {
                request
                    .headers_mut()
                    .insert("x-forwarded-proto", HeaderValue::from_static(proto));
            }
            request
        };
        assert!(is_https(&request(true, None)));
        assert!(is_https(&request(false, Some("HTTPS"))));
        assert!(!is_https(&request(false, Some("http"))));
        assert!(!is_https(&request(false, None)));
    }

    #[test]
    fn a_plus_in_the_token_is_a_plus_raw_or_encoded() {
        for link in ["/?token=ab+cd%2Fe%3D", "/?x=1&token=ab%2Bcd/e="] {
            let uri: Uri = link.parse().unwrap();
            assert_eq!(query_token(&uri).as_deref(), Some("ab+cd/e="), "{link}");
        }
        assert_eq!(query_token(&"/?tokens=x".parse().unwrap()), None);
    }
}
