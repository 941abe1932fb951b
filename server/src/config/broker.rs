//! The broker's address: one Redis, or the Sentinels that know which Redis is
//! the primary.

use std::fmt;

/// Where the cluster's Redis is (a password in it is never shown).
#[derive(Clone, PartialEq, Eq)]
pub enum BrokerUrl {
    /// `redis://[:PASSWORD@]HOST:PORT[/DB]`: one Redis.
    Redis(String),
    /// `redis+sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT…]/MASTER_NAME`: the
    /// primary that these Sentinels name, followed through failovers. The
    /// password is the primary's and its replicas' (the Sentinels take none).
    Sentinel {
        /// Each Sentinel's `HOST:PORT`.
        sentinels: Vec<String>,
        /// The name the Sentinels monitor the primary under.
        master: String,
        /// The primary's password, if it wants one.
        password: Option<String>,
    },
}

/// How the sentinel form reads, for error messages.
const SENTINEL_FORM: &str = "redis+sentinel://HOST:PORT[,HOST:PORT…]/MASTER_NAME";

impl BrokerUrl {
    /// How many replicas must hold a batch before it is acknowledged, unless
    /// `--broker-min-replicas` says otherwise: one behind Sentinel (which
    /// promotes a replica), none with one Redis.
    pub fn default_min_replicas(&self) -> u32 {
        match self {
            Self::Redis(_) => 0,
            Self::Sentinel { .. } => 1,
        }
    }
}

impl fmt::Debug for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for BrokerUrl {
    /// The address with any password replaced by `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Redis(url) => {
                let rest = url.strip_prefix("redis://").unwrap_or(url);
                match rest.split_once('@') {
                    Some((_, host)) => write!(f, "redis://***@{host}"),
                    None => f.write_str(url),
                }
            }
            Self::Sentinel {
                sentinels,
                master,
                password,
            } => {
                let secret = if password.is_some() { "***@" } else { "" };
                write!(
                    f,
                    "redis+sentinel://{secret}{}/{master}",
                    sentinels.join(",")
                )
            }
        }
    }
}

pub(super) fn parse_broker(text: &str) -> Result<BrokerUrl, String> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix("redis+sentinel://") {
        return parse_sentinel(rest);
    }
    if !text.starts_with("redis://") {
        return Err(format!(
            "expected redis://HOST:PORT[/DB], such as redis://127.0.0.1:6379, or {SENTINEL_FORM}"
        ));
    }
    redis::Client::open(text).map_err(|error| format!("not a Redis address: {error}"))?;
    Ok(BrokerUrl::Redis(text.into()))
}

/// `[:PASSWORD@]HOST:PORT[,HOST:PORT…]/MASTER_NAME`, after the scheme.
fn parse_sentinel(rest: &str) -> Result<BrokerUrl, String> {
    let (hosts, master) = rest
        .split_once('/')
        .ok_or_else(|| format!("no primary's name: expected {SENTINEL_FORM}"))?;
    let (password, hosts) = match hosts.rsplit_once('@') {
        Some((user, hosts)) => {
            let password = user.strip_prefix(':').unwrap_or(user);
            (Some(password.to_owned()).filter(|p| !p.is_empty()), hosts)
        }
        None => (None, hosts),
    };
    let valid_name = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if master.is_empty() || master.len() > 64 || !master.chars().all(valid_name) {
        return Err(format!(
            "the primary's name {master:?} is not 1 to 64 of A-Z a-z 0-9 - _ . (expected {SENTINEL_FORM})"
        ));
    }
    let sentinels = hosts
        .split(',')
        .map(|host| {
            let (name, port) = host
                .rsplit_once(':')
                .ok_or_else(|| format!("the Sentinel {host:?} is not HOST:PORT"))?;
            if name.is_empty() || port.parse::<u16>().map_or(true, |port| port == 0) {
                return Err(format!("the Sentinel {host:?} is not HOST:PORT"));
            }
            Ok(host.to_owned())
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(BrokerUrl::Sentinel {
        sentinels,
        master: master.to_owned(),
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sentinel_url_names_its_sentinels_and_the_primary() {
        let url = parse_broker("redis+sentinel://10.0.0.1:26379,sentinel-b:26380/prices").unwrap();
        assert_eq!(
            url,
            BrokerUrl::Sentinel {
                sentinels: vec!["10.0.0.1:26379".into(), "sentinel-b:26380".into()],
                master: "prices".into(),
                password: None,
            }
        );
        assert_eq!(url.default_min_replicas(), 1);
        assert_eq!(
            url.to_string(),
            "redis+sentinel://10.0.0.1:26379,sentinel-b:26380/prices"
        );
    }

    #[test]
    fn a_password_is_kept_and_never_shown() {
        let url = parse_broker("redis+sentinel://:s3cret@127.0.0.1:26379/tt").unwrap();
        assert!(matches!(&url, BrokerUrl::Sentinel { password: Some(p), .. } if p == "s3cret"));
        assert_eq!(url.to_string(), "redis+sentinel://***@127.0.0.1:26379/tt");
        assert_eq!(format!("{url:?}"), url.to_string());
        let plain = parse_broker("redis://:s3cret@127.0.0.1:6379").unwrap();
        assert_eq!(plain.to_string(), "redis://***@127.0.0.1:6379");
        assert_eq!(plain.default_min_replicas(), 0);
    }

    #[test]
    fn a_bad_url_says_what_was_expected() {
        for (bad, says) in [
            ("http://127.0.0.1:6379", "redis+sentinel://HOST:PORT"),
            ("redis+sentinel://127.0.0.1:26379", "no primary's name"),
            ("redis+sentinel://127.0.0.1:26379/", "primary's name"),
            ("redis+sentinel://127.0.0.1/tt", "is not HOST:PORT"),
            ("redis+sentinel://127.0.0.1:0/tt", "is not HOST:PORT"),
            ("redis+sentinel://a:1,,b:2/tt", "is not HOST:PORT"),
            ("redis+sentinel://a:1/t t", "primary's name"),
        ] {
            let error = parse_broker(bad).unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
