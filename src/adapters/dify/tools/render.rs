//! The readable text message that follows each JSON reply (what a chat shows).

use super::reply::event_name;
use crate::domain::graph::Relation;
use crate::domain::history::HistoryEntry;
use crate::domain::memory::{format_timestamp, MemoryId, MemoryRecord, Metadata, ScoredMemory};
use crate::domain::operations::AddReport;
use crate::ports::memory_api::{Degraded, WriteId};
use std::fmt::Write;

/// "… has been accepted (write id …)." for an async write of `what` ("memory addition", …).
pub(super) fn accepted(what: &str, id: &WriteId) -> String {
    format!("Asynchronous {what} has been accepted (write id {}).", id.0)
}

/// A sync write still running past its ceiling.
pub(super) fn still_running(what: &str, id: &WriteId) -> String {
    format!(
        "The {what} is still running after the time allowed for a synchronous call; it goes on in the \
         background (write id {}; get_write_status tells its outcome).",
        id.0
    )
}

/// The line saying the memories are the Dify end user's (no `user_id` was given, or bound).
pub(super) fn end_user_scope(user_id: &str) -> String {
    format!("Scope: the memories of the Dify end user of this call (user_id {user_id}).")
}

/// An add with nothing to remember.
pub(super) fn skipped() -> String {
    "Skipped memory addition for empty messages.".into()
}

/// A synchronous add: one line per memory touched.
pub(super) fn added(report: &AddReport) -> String {
    let mut text = String::from("Memory added synchronously.");
    if report.results.is_empty() {
        text.push_str(" No new facts were found.");
    }
    for change in &report.results {
        let _ = write!(text, "\n- {}: {} [{}]", event_name(change), change.memory, change.id);
        if let Some(previous) = &change.previous_memory {
            let _ = write!(text, " (was: {previous})");
        }
    }
    if let Some(graph) = &report.relations {
        let _ = write!(
            text,
            "\nGraph: {} relation(s) added, {} removed.",
            graph.added_entities.len(),
            graph.deleted_entities.len()
        );
    }
    text
}

/// Search results, best first.
pub(super) fn searched(
    query: &str,
    hits: &[ScoredMemory],
    relations: Option<&[Relation]>,
    degraded: Option<&Degraded>,
) -> String {
    let mut text = format!("Query: {query}\n");
    if let Some(d) = degraded {
        let _ = write!(text, "\nSearch degraded ({}); no results returned.", d.reason);
        return text;
    }
    if hits.is_empty() {
        text.push_str("\nNo results found.");
    }
    for (n, hit) in hits.iter().enumerate() {
        let _ = write!(text, "\n{}. Memory: {}\n   Score: {:.2}", n + 1, hit.record.text, hit.score.value());
        metadata_line(&mut text, "   ", &hit.record.metadata);
    }
    relation_lines(&mut text, relations);
    text
}

/// A listing of a scope.
pub(super) fn listed(records: &[MemoryRecord], relations: Option<&[Relation]>, degraded: Option<&Degraded>) -> String {
    let mut text = match degraded {
        Some(d) => format!("Listing degraded ({}); found 0 memories.", d.reason),
        None => format!("Found {} memories", records.len()),
    };
    for (n, record) in records.iter().enumerate() {
        let _ = write!(text, "\n\n{}. ID: {}\n   Memory: {}", n + 1, record.id, record.text);
        metadata_line(&mut text, "   ", &record.metadata);
        let _ = write!(
            text,
            "\n   Created: {}\n   Updated: {}",
            format_timestamp(&record.created_at),
            format_timestamp(&record.updated_at)
        );
    }
    relation_lines(&mut text, relations);
    text
}

/// One memory's details.
pub(super) fn details(record: &MemoryRecord) -> String {
    let mut text = format!("Memory Details:\nID: {}\nMemory: {}", record.id, record.text);
    metadata_line(&mut text, "", &record.metadata);
    let _ = write!(
        text,
        "\nCreated: {}\nUpdated: {}",
        format_timestamp(&record.created_at),
        format_timestamp(&record.updated_at)
    );
    text
}

/// A get that timed out or failed (not the same as "not found").
pub(super) fn get_degraded(id: &MemoryId, degraded: &Degraded) -> String {
    format!("Getting memory {id} degraded ({}); the memory could not be read right now.", degraded.reason)
}

/// A synchronous update.
pub(super) fn updated(record: &MemoryRecord) -> String {
    format!("Memory {} updated to '{}' successfully!", record.id, record.text)
}

/// A synchronous delete.
pub(super) fn deleted(id: &MemoryId) -> String {
    format!("Memory {id} deleted successfully!")
}

/// A synchronous delete_all of `filters` (the scope as JSON).
pub(super) fn deleted_all(filters: &str, count: u64) -> String {
    format!("All memories deleted successfully with filters: {filters} ({count} deleted).")
}

/// A memory's history, oldest first.
pub(super) fn history(id: &MemoryId, entries: &[HistoryEntry], degraded: Option<&Degraded>) -> String {
    let mut text = match degraded {
        Some(d) => format!("History of memory {id} degraded ({}); found 0 history records.", d.reason),
        None => format!("Found {} history records for memory {id}", entries.len()),
    };
    for (n, entry) in entries.iter().enumerate() {
        let _ = write!(text, "\n\n{}. {} at {}", n + 1, entry.event.as_str(), format_timestamp(&entry.updated_at));
        if let Some(old) = &entry.old_memory {
            let _ = write!(text, "\n   Old: {old}");
        }
        if let Some(new) = &entry.new_memory {
            let _ = write!(text, "\n   New: {new}");
        }
    }
    text
}

/// A failed call: "Failed to <action>: <why>".
pub(super) fn failed(action: &str, why: &str) -> String {
    format!("Failed to {action}: {why}")
}

fn metadata_line(text: &mut String, indent: &str, metadata: &Metadata) {
    if !metadata.is_empty() {
        let _ = write!(text, "\n{indent}Metadata: {}", serde_json::Value::Object(metadata.as_map().clone()));
    }
}

fn relation_lines(text: &mut String, relations: Option<&[Relation]>) {
    if let Some(relations) = relations.filter(|r| !r.is_empty()) {
        text.push_str("\n\nRelations:");
        for r in relations {
            let _ = write!(text, "\n- {} --{}--> {}", r.source, r.relationship, r.destination);
        }
    }
}

/// "Write <id>: applied / pending (attempt n, last error) / failed: reason".
pub(super) fn write_state(
    id: &crate::ports::memory_api::WriteId,
    state: &crate::ports::memory_api::WriteState,
) -> String {
    use crate::ports::memory_api::WriteState;
    match state {
        WriteState::Applied { .. } => format!("Write {} has been applied.", id.0),
        WriteState::Pending { attempts, last_error: None } => {
            format!("Write {} is waiting to be applied ({attempts} attempts so far).", id.0)
        }
        WriteState::Pending { attempts, last_error: Some(error) } => {
            format!("Write {} is waiting to be retried ({attempts} attempts so far; last error: {error}).", id.0)
        }
        WriteState::Failed { error, .. } => format!("Write {} failed: {error}", id.0),
    }
}
