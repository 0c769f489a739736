//! Rules shared by the journal adapters: which pending writes may be claimed, how a stored row
//! reads back as a [`WriteState`], and which finished writes an erase forgets.

use crate::domain::memory::MemoryId;
use crate::domain::operations::WriteCommand;
use crate::domain::scope::Scope;
use crate::ports::memory_api::WriteState;
use serde_json::Value;
use std::collections::HashSet;

/// A pending write as a claim sees it, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimCandidate {
    /// The write id.
    pub id: String,
    /// Its ordering key.
    pub key: String,
    /// Whether its retry delay has passed.
    pub due: bool,
    /// Whether another worker holds an unexpired lease on it.
    pub leased: bool,
}

/// The ids to claim from pending writes in journal order: only the oldest pending write of each
/// ordering key is eligible, and only when it is due and not leased; at most `max`.
pub fn claimable<'a>(pending: impl IntoIterator<Item = &'a ClaimCandidate>, max: usize) -> HashSet<String> {
    let mut seen_keys = HashSet::new();
    let mut chosen = HashSet::new();
    for candidate in pending {
        if !seen_keys.insert(candidate.key.as_str()) {
            continue;
        }
        if candidate.due && !candidate.leased && chosen.len() < max {
            chosen.insert(candidate.id.clone());
        }
    }
    chosen
}

/// The state of a stored journal row.
pub fn state_of(state: &str, attempts: u32, last_error: Option<String>, result: Option<String>) -> WriteState {
    match state {
        "applied" => {
            WriteState::Applied { result: result.and_then(|r| serde_json::from_str(&r).ok()).unwrap_or(Value::Null) }
        }
        "failed" => WriteState::Failed { error: last_error.unwrap_or_default(), attempts },
        _ => WriteState::Pending { attempts, last_error },
    }
}

/// The ids among finished writes `(id, command)` that an erase of `scope` (and of `memory_ids`)
/// forgets; a command that cannot be read is kept and reported.
pub(super) fn forgotten(
    finished: impl IntoIterator<Item = (String, Result<WriteCommand, String>)>,
    scope: &Scope,
    memory_ids: &[MemoryId],
) -> Vec<String> {
    let mut ids = Vec::new();
    for (id, command) in finished {
        match command {
            Ok(command) if command.concerns(scope, memory_ids) => ids.push(id),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(write = %id, error = %e, "journal row with an unreadable command kept by the erase")
            }
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, key: &str, due: bool, leased: bool) -> ClaimCandidate {
        ClaimCandidate { id: id.into(), key: key.into(), due, leased }
    }

    #[test]
    fn one_write_per_owner_oldest_first() {
        let pending = [
            c("1", "alice", true, true),
            c("2", "alice", true, false),
            c("3", "bob", false, false),
            c("4", "bob", true, false),
            c("5", "carol", true, false),
            c("6", "dave", true, false),
        ];
        let chosen = claimable(&pending, 2);
        assert_eq!(chosen, HashSet::from(["5".to_owned(), "6".to_owned()]));
    }

    #[test]
    fn rows_read_back_as_states() {
        assert_eq!(
            state_of("failed", 3, Some("boom".into()), None),
            WriteState::Failed { error: "boom".into(), attempts: 3 }
        );
        assert_eq!(
            state_of("applied", 1, None, Some("{\"a\":1}".into())),
            WriteState::Applied { result: serde_json::json!({"a": 1}) }
        );
        assert_eq!(state_of("pending", 2, None, None), WriteState::Pending { attempts: 2, last_error: None });
    }
}
