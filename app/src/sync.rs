//! Keeping the table in step with the stream, by event id.
//!
//! Every connection begins with a catch-up (a `snapshot`, or the replay of the
//! updates missed since the id the client resumed from) that ends with the first
//! `heartbeat`. [`StreamSync`] follows the ids through that and after it, and says
//! how each connection came back ([`Recovery`]) or that an id went missing
//! ([`Gap`]), in which case the table can no longer be trusted and the stream
//! must be reopened from the last good id. Plain data, tested without a browser.
//!
//! A stream of some symbols only (`?symbols=`) skips the ids of the others, so
//! there an update need only come after the last one, and a heartbeat (which
//! carries the stream's position) moves the last id up to it.

use crate::model::EventId;

/// How a connection caught up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// The server still had every update since our last id and replayed them.
    Resumed {
        /// How many updates were replayed.
        replayed: u64,
    },
    /// The server sent a snapshot: the table was replaced with the current state.
    Resynced,
}

impl Recovery {
    /// The sentence the dashboard shows.
    pub fn describe(self) -> String {
        match self {
            Self::Resumed { replayed: 1 } => "resumed, 1 missed update replayed".to_owned(),
            Self::Resumed { replayed } => format!("resumed, {replayed} missed updates replayed"),
            Self::Resynced => "resynced from snapshot".to_owned(),
        }
    }
}

/// An update whose id does not follow the last one: something was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    /// The id that should have come next.
    pub expected: EventId,
    /// The id that came.
    pub got: EventId,
}

/// The ids seen on the stream, across reconnections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamSync {
    last: Option<EventId>,
    catch_up: Option<CatchUp>,
    /// Whether the stream carries some symbols only, so ids may skip.
    filtered: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct CatchUp {
    replayed: u64,
    resynced: bool,
    /// Whether the connection asked to resume; a fresh one's snapshot is no
    /// recovery, just the start.
    resuming: bool,
}

impl StreamSync {
    /// Starts from `last`, the id of the state the page already shows.
    pub fn new(last: Option<EventId>) -> Self {
        Self {
            last,
            catch_up: None,
            filtered: false,
        }
    }

    /// The id of the last event applied: where to resume from.
    pub fn last(&self) -> Option<EventId> {
        self.last
    }

    /// A connection opened, of some symbols only when `filtered`; its catch-up
    /// begins.
    pub fn opened(&mut self, filtered: bool) {
        self.filtered = filtered;
        self.catch_up = Some(CatchUp {
            resuming: self.last.is_some(),
            ..CatchUp::default()
        });
    }

    /// A snapshot arrived and replaced the table. During a catch-up the connection
    /// will report [`Recovery::Resynced`]; otherwise (the server found this client
    /// too slow) it is a recovery of its own, returned at once.
    pub fn snapshot(&mut self, id: EventId) -> Option<Recovery> {
        self.last = Some(id);
        match &mut self.catch_up {
            Some(catch_up) => {
                catch_up.resynced = true;
                None
            }
            None => Some(Recovery::Resynced),
        }
    }

    /// A price update arrived: it may be applied if its id follows the last one.
    pub fn update(&mut self, id: EventId) -> Result<(), Gap> {
        self.check(id)?;
        self.last = Some(id);
        if let Some(catch_up) = &mut self.catch_up {
            catch_up.replayed += 1;
        }
        Ok(())
    }

    /// A heartbeat arrived with the stream's position. The first one after an open
    /// ends the catch-up, and says how it went.
    pub fn heartbeat(&mut self, id: EventId) -> Result<Option<Recovery>, Gap> {
        if self.filtered && self.last.is_some_and(|last| comes_after(id, last)) {
            self.last = Some(id);
        }
        if self.last != Some(id) {
            // The heartbeat says the stream is at `id`: anything between is lost.
            let expected = self.last.map_or(id, EventId::next);
            if self.last.is_some() {
                return Err(Gap { expected, got: id });
            }
            self.last = Some(id);
        }
        Ok(self
            .catch_up
            .take()
            .filter(|catch_up| catch_up.resuming)
            .map(|catch_up| {
                if catch_up.resynced {
                    Recovery::Resynced
                } else {
                    Recovery::Resumed {
                        replayed: catch_up.replayed,
                    }
                }
            }))
    }

    /// Whether an event at `id` brings nothing new to a table already at the
    /// last id: an update at or before it, or a heartbeat before it, of the same
    /// run. A tab that follows another tab's stream skips these: that stream may
    /// replay what this tab has (a new leader resumes from its own last id), or
    /// be behind a snapshot this tab fetched itself.
    pub fn already_seen(&self, id: EventId, update: bool) -> bool {
        self.last.is_some_and(|last| {
            id.run == last.run && (id.seq < last.seq || (update && id.seq == last.seq))
        })
    }

    fn check(&self, id: EventId) -> Result<(), Gap> {
        match self.last {
            Some(last) if self.filtered && comes_after(id, last) && id != last => Ok(()),
            Some(last) if !id.follows(last) => Err(Gap {
                expected: last.next(),
                got: id,
            }),
            _ => Ok(()),
        }
    }
}

/// Whether `id` is at or after `last` in the same server run.
fn comes_after(id: EventId, last: EventId) -> bool {
    id.run == last.run && id.seq >= last.seq
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RunId;

    fn id(seq: u64) -> EventId {
        EventId { run: RunId(1), seq }
    }

    #[test]
    fn a_resume_counts_the_replayed_updates_until_the_first_heartbeat() {
        let mut sync = StreamSync::new(Some(id(10)));
        sync.opened(false);
        sync.update(id(11)).unwrap();
        sync.update(id(12)).unwrap();
        assert_eq!(
            sync.heartbeat(id(12)),
            Ok(Some(Recovery::Resumed { replayed: 2 }))
        );
        // Live updates and later heartbeats report nothing.
        sync.update(id(13)).unwrap();
        assert_eq!(sync.heartbeat(id(13)), Ok(None));
        assert_eq!(sync.last(), Some(id(13)));
    }

    #[test]
    fn a_snapshot_during_catch_up_is_a_resync() {
        let mut sync = StreamSync::new(Some(id(10)));
        sync.opened(false);
        let other_run = EventId {
            run: RunId(2),
            seq: 4,
        };
        assert_eq!(sync.snapshot(other_run), None);
        assert_eq!(sync.heartbeat(other_run), Ok(Some(Recovery::Resynced)));
        assert!(sync.update(other_run.next()).is_ok());
    }

    #[test]
    fn a_snapshot_while_live_is_reported_at_once() {
        let mut sync = StreamSync::new(None);
        sync.opened(false);
        sync.snapshot(id(1));
        // A fresh connection's snapshot is the start, not a recovery.
        assert_eq!(sync.heartbeat(id(1)), Ok(None));
        assert_eq!(sync.snapshot(id(500)), Some(Recovery::Resynced));
    }

    #[test]
    fn a_missing_id_is_a_gap_and_is_not_applied() {
        let mut sync = StreamSync::new(Some(id(10)));
        assert_eq!(
            sync.update(id(12)),
            Err(Gap {
                expected: id(11),
                got: id(12)
            })
        );
        assert_eq!(sync.last(), Some(id(10)));
        assert!(sync.heartbeat(id(12)).is_err());
    }

    #[test]
    fn a_follower_skips_what_it_has_and_nothing_else() {
        let sync = StreamSync::new(Some(id(10)));
        assert!(sync.already_seen(id(9), true));
        assert!(sync.already_seen(id(10), true), "the same update twice");
        assert!(
            !sync.already_seen(id(10), false),
            "a heartbeat at the position"
        );
        assert!(sync.already_seen(id(9), false));
        assert!(!sync.already_seen(id(11), true));
        let other_run = EventId {
            run: RunId(2),
            seq: 1,
        };
        assert!(!sync.already_seen(other_run, true), "another run is news");
        assert!(!StreamSync::new(None).already_seen(id(1), true));
    }

    #[test]
    fn the_sentences() {
        assert_eq!(
            Recovery::Resumed { replayed: 3 }.describe(),
            "resumed, 3 missed updates replayed"
        );
        assert_eq!(Recovery::Resynced.describe(), "resynced from snapshot");
    }

    #[test]
    fn a_filtered_stream_may_skip_ids_but_not_go_back() {
        let mut sync = StreamSync::new(Some(id(10)));
        sync.opened(true);
        sync.update(id(13)).unwrap();
        sync.update(id(20)).unwrap();
        assert!(sync.update(id(20)).is_err(), "a duplicate");
        assert!(sync.update(id(19)).is_err(), "going back");
        // The heartbeat moves the position past the other symbols' updates.
        assert_eq!(
            sync.heartbeat(id(25)),
            Ok(Some(Recovery::Resumed { replayed: 2 }))
        );
        assert_eq!(sync.last(), Some(id(25)));
        assert!(sync.heartbeat(id(24)).is_err());
    }
}
