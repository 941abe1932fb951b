//! The simulator's lease: one instance of the cluster simulates, the one
//! holding `PREFIX:lease` (`SET NX PX`, renewed by its holder).

use super::{client::Broker, scripts::RELEASE};
use redis::{RedisError, Script, Value};
use std::time::Duration;

/// How long the simulator's lease lasts unless renewed.
pub const LEASE: Duration = Duration::from_millis(3000);

/// How often the lease is renewed, or tried for.
pub const LEASE_EVERY: Duration = Duration::from_millis(1000);

impl Broker {
    /// Renews the lease when `held`, or tries to take it; whether this
    /// instance holds it now.
    pub async fn hold_lease(&self, held: bool) -> Result<bool, RedisError> {
        let mut connection = self.commands().await?;
        let ms = LEASE.as_millis() as u64;
        if held {
            let renewed: i64 = self
                .renew
                .key(&self.keys.lease)
                .arg(&self.instance)
                .arg(ms)
                .invoke_async(&mut connection)
                .await?;
            return Ok(renewed == 1);
        }
        let taken: Value = redis::cmd("SET")
            .arg(&self.keys.lease)
            .arg(&self.instance)
            .arg("NX")
            .arg("PX")
            .arg(ms)
            .query_async(&mut connection)
            .await?;
        Ok(matches!(taken, Value::Okay))
    }

    /// Gives the lease up if this instance holds it, so that another takes
    /// over at once.
    pub async fn release_lease(&self) {
        if let Ok(mut connection) = self.commands().await {
            let _: Result<i64, _> = Script::new(RELEASE)
                .key(&self.keys.lease)
                .arg(&self.instance)
                .invoke_async(&mut connection)
                .await;
        }
    }

    /// The metric of who simulates: 1 on the holder.
    pub fn set_lease_holder(&self, holding: bool) {
        self.metrics.lease_holder.set(i64::from(holding));
    }
}
