//! HTTPS, with HTTP/2: `--tls-cert`/`--tls-key`, or `--tls-self-signed` to try
//! it locally.
//!
//! Over HTTP/1.1 a browser opens at most six connections to an origin, and each
//! tab's stream holds one for good; over HTTP/2 every tab and every request
//! share one connection. Browsers speak HTTP/2 only over TLS, so this module
//! makes the TLS configuration: rustls with the `ring` provider (no OpenSSL, no
//! cmake), ALPN `h2` then `http/1.1`. [`serve`](crate::delivery::serve) serves each
//! negotiated protocol with hyper.

use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, pem::PemObject};
use std::{io, path::Path, sync::Arc};
use tokio_rustls::TlsAcceptor;

/// Where a server's certificate comes from.
#[derive(Debug, Clone)]
pub enum Certificate {
    /// A chain and its key, both PEM files (`--tls-cert`, `--tls-key`).
    Files {
        /// The certificate chain.
        cert: std::path::PathBuf,
        /// Its private key.
        key: std::path::PathBuf,
    },
    /// One made at start-up (`--tls-self-signed`).
    SelfSigned,
}

/// The TLS acceptor for `certificate`: HTTP/2 and HTTP/1.1.
pub fn acceptor(certificate: &Certificate) -> io::Result<TlsAcceptor> {
    let (certs, key) = match certificate {
        Certificate::Files { cert, key } => (read_certs(cert)?, read_key(key)?),
        Certificate::SelfSigned => self_signed()?,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|error| invalid(format!("the TLS certificate and key do not fit: {error}")))?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(server)))
}

/// How long a self-signed certificate is valid: long enough for any session
/// of trying things out, short as certificates go.
const SELF_SIGNED_DAYS: i64 = 30;

/// A certificate for `localhost` and `127.0.0.1`, made now and named for
/// tickertape, valid from a day ago (clocks differ) for [`SELF_SIGNED_DAYS`].
/// Its PEM is written to the temporary folder, for clients to trust
/// (`tickertape publish --ca-cert`, `curl --cacert`).
fn self_signed() -> io::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let mut params = rcgen::CertificateParams::new(names).map_err(io::Error::other)?;
    let mut name = rcgen::DistinguishedName::new();
    name.push(
        rcgen::DnType::CommonName,
        "tickertape (self-signed, for localhost)",
    );
    name.push(rcgen::DnType::OrganizationName, "tickertape");
    params.distinguished_name = name;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let day = 24 * 3600;
    params.not_before = valid_at(now.saturating_sub(day))?;
    params.not_after = valid_at(now + SELF_SIGNED_DAYS as u64 * day)?;
    let key = rcgen::KeyPair::generate().map_err(io::Error::other)?;
    let cert = params.self_signed(&key).map_err(io::Error::other)?;
    let path =
        std::env::temp_dir().join(format!("tickertape-self-signed-{}.pem", std::process::id()));
    match std::fs::write(&path, cert.pem()) {
        Ok(()) => tracing::warn!(
            "serving HTTPS with a self-signed certificate for localhost and 127.0.0.1, valid for \
             {SELF_SIGNED_DAYS} days: browsers will warn that the connection is not private (use \
             --tls-cert and --tls-key for a real one); clients can trust it with {}",
            path.display()
        ),
        Err(error) => tracing::warn!(%error, "could not write the self-signed certificate"),
    }
    let der = PrivatePkcs8KeyDer::from(key.serialize_der());
    Ok((vec![cert.der().clone()], der.into()))
}

fn valid_at(unix_secs: u64) -> io::Result<time::OffsetDateTime> {
    let secs = i64::try_from(unix_secs).map_err(io::Error::other)?;
    time::OffsetDateTime::from_unix_timestamp(secs).map_err(io::Error::other)
}

fn read_certs(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|error| {
            invalid(format!(
                "cannot read --tls-cert {}: {error}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(invalid(format!(
            "--tls-cert {} holds no certificate (expected PEM)",
            path.display()
        )));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> io::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|error| invalid(format!("cannot read --tls-key {}: {error}", path.display())))
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}
