//! Retries applied once: the same add (same scope and messages, or the same `idempotency_key`)
//! received again within the repeat window — a Dify node retried, an agent calling twice — is
//! answered with the first write's id and result instead of being written again.
//!
//! The write id of an add is derived from what makes it a repeat and from the window it falls
//! in, so every process sharing one journal derives the same id: a repeat finds the write in the
//! journal under the id of the current window or of the one before (a repeat is therefore
//! recognised for at least one window and at most two), and two processes recording the same
//! add at once record one write (the journal ignores an id it already holds).

use crate::domain::operations::WriteCommand;
use crate::ports::memory_api::WriteId;
use sha2::{Digest, Sha256};
use std::time::Duration;
use uuid::Uuid;

/// How long an add counts as a repeat of an earlier one, by default.
pub const DEFAULT_REPEAT_WINDOW: Duration = Duration::from_secs(120);

/// What makes an add a repeat of another: its scope, and its `idempotency_key` if given, else
/// its messages, hashed. Other writes are never deduplicated (`None`).
pub fn repeat_key(command: &WriteCommand) -> Option<String> {
    let WriteCommand::Add(request) = command else { return None };
    let mut hash = Sha256::new();
    for (key, id) in request.scope.pairs() {
        hash.update(format!("{key}={}\n", id.as_str().len()));
        hash.update(id.as_str());
    }
    match &request.idempotency_key {
        Some(key) => {
            hash.update(b"key\n");
            hash.update(key.as_bytes());
        }
        None => {
            for message in request.conversation.messages() {
                hash.update(format!("\n{}:{}\n", message.role.as_str(), message.content.len()));
                hash.update(message.content.as_bytes());
            }
        }
    }
    Some(hex::encode(hash.finalize()))
}

/// The write ids of an add that can repeat an earlier one, in the window holding the time asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatIds {
    /// The id it is recorded under.
    pub current: WriteId,
    /// The id it is recorded under when the write under `current` failed: a retry of a failed
    /// add is written again, and its own repeats still find it.
    pub retry: WriteId,
    /// The ids of an earlier recording of the same add: the previous window's and its retry,
    /// then the current window's and its retry.
    pub earlier: [WriteId; 4],
}

/// The write ids of an add with `key` at `now_ms` (Unix milliseconds). `None` when the window
/// is zero (off).
pub fn repeat_ids(key: &str, window: Duration, now_ms: i64) -> Option<RepeatIds> {
    let window_ms = i64::try_from(window.as_millis()).ok().filter(|w| *w > 0)?;
    let bucket = now_ms.div_euclid(window_ms);
    let id = |bucket: i64, retry: bool| {
        let suffix = if retry { "/retry" } else { "" };
        let digest = Sha256::digest(format!("{key}/{window_ms}/{bucket}{suffix}"));
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        WriteId(Uuid::from_bytes(bytes).to_string())
    };
    let (current, retry) = (id(bucket, false), id(bucket, true));
    let earlier = [id(bucket - 1, false), id(bucket - 1, true), current.clone(), retry.clone()];
    Some(RepeatIds { current, retry, earlier })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::Conversation;
    use crate::domain::operations::AddRequest;
    use crate::domain::scope::Scope;

    fn add(user: &str, text: &str, key: Option<&str>) -> WriteCommand {
        WriteCommand::Add(AddRequest {
            conversation: Conversation::from_turn(text, Some("Noted")),
            scope: Scope::parse(Some(user), None, None).unwrap_or_else(|e| panic!("{e}")),
            metadata: Default::default(),
            infer: true,
            actor_id: None,
            observed_at: None,
            expires_at: None,
            idempotency_key: key.map(str::to_owned),
        })
    }

    #[test]
    fn the_same_scope_and_messages_or_key_make_a_repeat() {
        let key = |c: &WriteCommand| repeat_key(c).unwrap_or_default();
        assert_eq!(key(&add("alice", "I like tea", None)), key(&add("alice", "I like tea", None)));
        assert_ne!(key(&add("alice", "I like tea", None)), key(&add("bob", "I like tea", None)));
        assert_ne!(key(&add("alice", "I like tea", None)), key(&add("alice", "I like coffee", None)));
        assert_eq!(key(&add("alice", "I like tea", Some("m-1"))), key(&add("alice", "Other words", Some("m-1"))));
        assert_ne!(key(&add("alice", "I like tea", Some("m-1"))), key(&add("alice", "I like tea", Some("m-2"))));
        assert_ne!(key(&add("alice", "I like tea", Some("m-1"))), key(&add("bob", "I like tea", Some("m-1"))));
        let delete_all =
            WriteCommand::DeleteAll(Scope::parse(Some("alice"), None, None).unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(repeat_key(&delete_all), None);
    }

    #[test]
    fn ids_follow_the_window_and_overlap_with_the_previous_one() {
        let window = Duration::from_secs(60);
        let at = |secs: i64| repeat_ids("k", window, secs * 1000).unwrap_or_else(|| panic!("on"));
        assert_eq!(at(120), at(179));
        let (now, later) = (at(150), at(185));
        assert_eq!(
            later.earlier[..2],
            [now.current.clone(), now.retry.clone()],
            "a repeat just past the boundary still finds the first write"
        );
        assert_eq!(now.earlier[2..], [now.current.clone(), now.retry.clone()]);
        assert_ne!(now.current, now.retry);
        assert_ne!(now.current, later.current);
        assert_eq!(repeat_ids("k", Duration::ZERO, 0), None);
        assert_ne!(repeat_ids("k", window, 0), repeat_ids("other", window, 0));
    }
}
