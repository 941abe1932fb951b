//! The cluster's keys in Redis, and the Lua scripts that change them
//! atomically.

/// Appends a batch: `KEYS` epoch, head, stream, quotes, symbols, committed;
/// `ARGV` the epoch and head the batch was computed at, how many updates the
/// stream keeps (`--history`), the number of updates and their JSON as one
/// array, then the number of symbol states and each `symbol, state`, then `1`
/// to commit the batch at once (no replica to wait for) or `0`. Returns
/// `{"ok", head}`, `{"conflict", head}` or `{"epoch", epoch}`.
///
/// A batch is one entry `<seq>-0`, `seq` its last update's, with the field
/// `b`, the updates' JSON array (an entry `<seq>-0` with the field `d` is one
/// update; relays read both). A commit mark is an entry `<head>-<n>` (after
/// the newest update, `n` chosen by Redis) with the field `c`, the last `seq`
/// that counts: relays pass on no update before a mark covers it. Entries
/// whose last update is older than the history are trimmed (`MINID ~`).
pub(super) const APPEND: &str = r"
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return {'epoch', epoch or ''} end
local head = tonumber(redis.call('GET', KEYS[2]) or '0')
if head ~= tonumber(ARGV[2]) then return {'conflict', string.format('%d', head)} end
head = head + tonumber(ARGV[4])
local last = string.format('%d', head)
local oldest = string.format('%d', math.max(head - tonumber(ARGV[3]), 0))
redis.call('XADD', KEYS[3], 'MINID', '~', oldest, last .. '-0', 'b', ARGV[5])
local m = tonumber(ARGV[6])
local i = 7
for _ = 1, m do
  if redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('RPUSH', KEYS[5], ARGV[i])
  end
  i = i + 2
end
redis.call('SET', KEYS[2], head)
if ARGV[i] == '1' then
  redis.call('XADD', KEYS[3], last .. '-*', 'c', last)
  redis.call('SET', KEYS[6], last)
end
return {'ok', last}
";

/// Commits the updates up to a `seq` that enough replicas hold: `KEYS` epoch,
/// head, stream, committed; `ARGV` the epoch, the `seq`. Adds a commit mark
/// after the newest update unless one already covers `seq`. Returns `{"ok",
/// committed}` or `{"epoch", epoch}`.
pub(super) const COMMIT: &str = r"
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return {'epoch', epoch or ''} end
local committed = tonumber(redis.call('GET', KEYS[4]) or '0')
local seq = tonumber(ARGV[2])
if seq > committed then
  local head = redis.call('GET', KEYS[2]) or '0'
  redis.call('XADD', KEYS[3], head .. '-*', 'c', ARGV[2])
  redis.call('SET', KEYS[4], ARGV[2])
  committed = seq
end
return {'ok', string.format('%d', committed)}
";

/// Creates the cluster's epoch unless there is one: `KEYS` epoch, head,
/// stream, quotes, symbols, committed; `ARGV` a new epoch, then the number of
/// symbols and each `symbol, state` to start from, then the epoch to replace
/// (empty: only when there is none). Returns the epoch in force.
///
/// Replacing an epoch is how an instance that finds the broker without
/// updates it relayed (a failover lost them) starts the cluster again from
/// its prices: every instance then reloads, and every viewer resyncs.
pub(super) const INIT: &str = r"
local epoch = redis.call('GET', KEYS[1])
if epoch and epoch ~= ARGV[#ARGV] then return epoch end
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
redis.call('SET', KEYS[2], 0)
redis.call('SET', KEYS[6], 0)
local n = tonumber(ARGV[2])
local i = 3
for _ = 1, n do
  redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
  redis.call('RPUSH', KEYS[5], ARGV[i])
  i = i + 2
end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
";

/// The snapshot, consistent with its head: `KEYS` epoch, head, quotes,
/// symbols, committed. Returns `{epoch, head, committed, {state, ...}}`, the
/// states in display order (they are the head's: the loader waits for the
/// head to be committed).
pub(super) const LOAD: &str = r"
local symbols = redis.call('LRANGE', KEYS[4], 0, -1)
local states = {}
if #symbols > 0 then states = redis.call('HMGET', KEYS[3], unpack(symbols)) end
return {redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[2]) or '0',
  redis.call('GET', KEYS[5]) or '0', states}
";

/// Renews the lease if this instance holds it: `KEYS` lease; `ARGV` the
/// instance, the lease's length in milliseconds.
pub(super) const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// Gives the lease up if this instance holds it: `KEYS` lease; `ARGV` the instance.
pub(super) const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// The keys of one cluster.
#[derive(Debug)]
pub(super) struct Keys {
    pub(super) epoch: String,
    pub(super) head: String,
    pub(super) stream: String,
    pub(super) quotes: String,
    pub(super) symbols: String,
    pub(super) lease: String,
    pub(super) committed: String,
    /// A key each instance writes before a `WAIT` that must cover updates
    /// another connection wrote.
    pub(super) probe: String,
}

impl Keys {
    pub(super) fn new(prefix: &str) -> Self {
        let key = |name: &str| format!("{prefix}:{name}");
        Self {
            epoch: key("epoch"),
            head: key("head"),
            stream: key("stream"),
            quotes: key("quotes"),
            symbols: key("symbols"),
            lease: key("lease"),
            committed: key("committed"),
            probe: key("probe"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_a_cluster_starts_with_its_prefix() {
        let keys = Keys::new("blue");
        let all = [
            &keys.epoch,
            &keys.head,
            &keys.stream,
            &keys.quotes,
            &keys.symbols,
            &keys.lease,
            &keys.committed,
            &keys.probe,
        ];
        assert_eq!(
            all.map(String::as_str),
            [
                "blue:epoch",
                "blue:head",
                "blue:stream",
                "blue:quotes",
                "blue:symbols",
                "blue:lease",
                "blue:committed",
                "blue:probe"
            ]
        );
    }

    #[test]
    fn the_scripts_name_only_the_keys_and_arguments_they_are_given() {
        // A key the script builds itself would escape the prefix (and Redis
        // Cluster's rule that a script declares its keys).
        for script in [APPEND, COMMIT, INIT, LOAD, RENEW, RELEASE] {
            assert!(!script.contains("tickertape:"), "{script}");
            assert!(!script.contains("..':'"), "{script}");
        }
    }
}
