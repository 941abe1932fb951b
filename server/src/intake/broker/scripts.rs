//! The cluster's keys in Redis, and the Lua scripts that change them
//! atomically.

/// Appends a batch: `KEYS` epoch, head, stream, quotes, symbols; `ARGV` the
/// epoch and head the batch was computed at, the stream's `MAXLEN ~`, the
/// number of updates and each one's JSON, then the number of symbol states and
/// each `symbol, state`. Returns `{"ok", head}`, `{"conflict", head}` or
/// `{"epoch", epoch}`.
pub(super) const APPEND: &str = r"
local epoch = redis.call('GET', KEYS[1])
if epoch ~= ARGV[1] then return {'epoch', epoch or ''} end
local head = tonumber(redis.call('GET', KEYS[2]) or '0')
if head ~= tonumber(ARGV[2]) then return {'conflict', string.format('%d', head)} end
local n = tonumber(ARGV[4])
local i = 5
for _ = 1, n do
  head = head + 1
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], string.format('%d-0', head), 'd', ARGV[i])
  i = i + 1
end
local m = tonumber(ARGV[i])
i = i + 1
for _ = 1, m do
  if redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('RPUSH', KEYS[5], ARGV[i])
  end
  i = i + 2
end
redis.call('SET', KEYS[2], head)
return {'ok', string.format('%d', head)}
";

/// Creates the cluster's epoch unless there is one: `KEYS` epoch, head,
/// stream, quotes, symbols; `ARGV` a new epoch, then the number of symbols and
/// each `symbol, state` to start from. Returns the epoch in force.
pub(super) const INIT: &str = r"
local epoch = redis.call('GET', KEYS[1])
if epoch then return epoch end
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
redis.call('SET', KEYS[2], 0)
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
/// symbols. Returns `{epoch, head, {state, ...}}` in display order.
pub(super) const LOAD: &str = r"
local symbols = redis.call('LRANGE', KEYS[4], 0, -1)
local states = {}
if #symbols > 0 then states = redis.call('HMGET', KEYS[3], unpack(symbols)) end
return {redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[2]) or '0', states}
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
        ];
        assert_eq!(
            all.map(String::as_str),
            [
                "blue:epoch",
                "blue:head",
                "blue:stream",
                "blue:quotes",
                "blue:symbols",
                "blue:lease"
            ]
        );
    }

    #[test]
    fn the_scripts_name_only_the_keys_and_arguments_they_are_given() {
        // A key the script builds itself would escape the prefix (and Redis
        // Cluster's rule that a script declares its keys).
        for script in [APPEND, INIT, LOAD, RENEW, RELEASE] {
            assert!(!script.contains("tickertape:"), "{script}");
            assert!(!script.contains("..':'"), "{script}");
        }
    }
}
