//! Where prices go in: this instance's hub when it stands alone, the
//! cluster's broker when it has one (every instance's hub gets them from
//! there).

use crate::{
    hub::{Hub, PublishError, Tick},
    intake::broker::Broker,
};
use app::model::EventId;
use std::sync::Arc;

/// Where prices are published.
#[derive(Debug, Clone)]
pub enum Publisher {
    /// This instance's hub.
    Hub(Arc<Hub>),
    /// The cluster's broker.
    Broker(Arc<Broker>),
}

impl Publisher {
    /// Publishes `batch`, all or nothing, with consecutive ids; returns the id
    /// of its last update.
    pub async fn publish(&self, batch: Vec<Tick>) -> Result<EventId, PublishError> {
        match self {
            Self::Hub(hub) => hub.publish_batch(batch),
            Self::Broker(broker) => broker.append(batch).await,
        }
    }
}
