//! Rules shared by the journal adapters: which pending writes may be claimed, how a stored row
//! reads back as a [`WriteState`], and which finished writes an erase forgets.

use crate::domain::memory::MemoryId;
use crate::domain::operations::{WriteCommand, WriteResult};
use crate::domain::scope::Scope;
use crate::domain::write_plan::SavedStep;
use crate::ports::memory_api::WriteState;
use crate::ports::store::StoreError;
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

/// The result of an applied write as the journal keeps it: as the sync call answers it.
pub(super) fn kept(store: &'static str, result: &WriteResult) -> Result<Value, StoreError> {
    serde_json::to_value(result)
        .map_err(|e| StoreError::Rejected { store, message: format!("the result of the write cannot be kept: {e}") })
}

/// A saved step as the journal keeps it.
pub(super) fn step_json(store: &'static str, step: &SavedStep) -> Result<Value, StoreError> {
    serde_json::to_value(step)
        .map_err(|e| StoreError::Rejected { store, message: format!("the plan of the write cannot be kept: {e}") })
}

/// A saved step read back; one that does not read as a step is given as its reason.
pub(super) fn saved_step(kept: Value) -> Result<SavedStep, String> {
    serde_json::from_value(kept).map_err(|e| format!("the saved plan cannot be read: {e}"))
}

/// A stored journal row, as read for its state.
pub(super) struct StoredState {
    /// `pending`, `applied` or `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last error, if any.
    pub last_error: Option<String>,
    /// The result of an applied write, serialized.
    pub result: Option<String>,
    /// The write's command, serialized (tells which operation's result it is).
    pub command: String,
}

/// The state of a stored journal row; an applied write's result is read as its command's
/// result, and one that cannot be read is an error, not an empty result.
pub(super) fn state_of(row: StoredState) -> Result<WriteState, String> {
    Ok(match row.state.as_str() {
        "applied" => {
            let command: WriteCommand = serde_json::from_str(&row.command).map_err(|e| format!("its command: {e}"))?;
            let kept: Value = serde_json::from_str(row.result.as_deref().unwrap_or("null"))
                .map_err(|e| format!("its result: {e}"))?;
            let result = WriteResult::from_kept(&command, kept).map_err(|e| format!("its result: {e}"))?;
            WriteState::Applied { result: Box::new(result) }
        }
        "failed" => WriteState::Failed { error: row.last_error.unwrap_or_default(), attempts: row.attempts },
        _ => WriteState::Pending { attempts: row.attempts, last_error: row.last_error },
    })
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

    fn row(
        state: &str,
        attempts: u32,
        last_error: Option<&str>,
        result: Option<&str>,
        command: &WriteCommand,
    ) -> StoredState {
        StoredState {
            state: state.into(),
            attempts,
            last_error: last_error.map(Into::into),
            result: result.map(Into::into),
            command: serde_json::to_string(command).unwrap(),
        }
    }

    #[test]
    fn rows_read_back_as_states_with_the_result_of_their_command() {
        let scope = Scope::parse(Some("alice"), None, None).unwrap();
        let wipe = WriteCommand::DeleteAll(scope.clone());
        let id = MemoryId::from_uuid(uuid::Uuid::from_u128(7));
        let delete = WriteCommand::Delete(crate::domain::operations::MemoryRef { id, scope: Some(scope) });
        assert_eq!(
            state_of(row("failed", 3, Some("boom"), None, &wipe)),
            Ok(WriteState::Failed { error: "boom".into(), attempts: 3 })
        );
        assert_eq!(
            state_of(row("applied", 1, None, Some(r#"{"deleted":2}"#), &wipe)),
            Ok(WriteState::Applied {
                result: Box::new(WriteResult::DeleteAll(crate::domain::operations::DeleteAllReport { deleted: 2 }))
            })
        );
        let kept = format!(r#"{{"id":"{id}"}}"#);
        assert_eq!(
            state_of(row("applied", 1, None, Some(&kept), &delete)),
            Ok(WriteState::Applied { result: Box::new(WriteResult::Delete { id }) })
        );
        assert!(state_of(row("applied", 1, None, Some(r#"{"a":1}"#), &delete)).is_err(), "another operation's result");
        assert_eq!(
            state_of(row("pending", 2, None, None, &wipe)),
            Ok(WriteState::Pending { attempts: 2, last_error: None })
        );
    }

    #[test]
    fn a_saved_step_that_does_not_read_as_one_is_given_as_its_reason() {
        let reason = saved_step(serde_json::json!({"plan": 1})).unwrap_err();
        assert!(reason.starts_with("the saved plan cannot be read"), "{reason}");
    }
}
