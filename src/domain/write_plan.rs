//! The plan of a write, decided before anything is written and journaled so a replay applies
//! the very same changes: the vector store changes, the history rows, the graph part of an add,
//! and the facts of an add's first model call while its update decision is still to be made.
//!
//! Pure data; the journal alone serializes it.

use super::graph::GraphPlan;
use super::history::HistoryEntry;
use super::memory::{MemoryRecord, MemoryText};
use super::operations::MemoryChange;
use super::scope::Scope;
use serde::{Deserialize, Serialize};

/// One decided change to the vector store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum PlannedChange {
    /// Store a new memory.
    Insert {
        /// The memory.
        record: MemoryRecord,
        /// Its vector.
        vector: Vec<f32>,
    },
    /// Overwrite a memory (nothing happens if it is gone).
    Update {
        /// The memory as it will be.
        record: MemoryRecord,
        /// Its new vector, when the text changed.
        vector: Option<Vec<f32>>,
        /// Its text before.
        previous: MemoryText,
    },
    /// Remove a memory.
    Delete {
        /// The memory as it was.
        record: MemoryRecord,
    },
}

/// What kind of write a plan carries out, and what it reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlanKind {
    /// An add; graph memory gets `transcript` when configured.
    Add {
        /// Facts already stored (NONE results).
        unchanged: Vec<MemoryChange>,
        /// The conversation for graph memory.
        transcript: String,
        /// LLM calls spent planning.
        llm_calls: u32,
        /// The graph part of the add (a plan journaled by an older version has none: its graph
        /// part is planned when the write is resumed).
        #[serde(default)]
        graph: GraphStep,
    },
    /// An update of one memory.
    Update,
    /// A delete of one memory.
    Delete,
    /// Delete everything in a scope (applied directly; naturally idempotent).
    DeleteAll,
}

/// Where the graph part of an add stands. It is planned once the vector part is applied (so a
/// graph outage never holds vector memories back) and journaled before it is applied, so a
/// replay never asks the model again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum GraphStep {
    /// Still to plan: the model has not been asked yet.
    #[default]
    Pending,
    /// Nothing to do: no graph memory configured, or nothing to read.
    Skipped,
    /// Decided; applied once the vector changes are.
    Planned {
        /// The decision.
        plan: GraphPlan,
    },
    /// Could not be decided for good: the vector part is applied and the add reports the graph
    /// part as degraded with this reason.
    Failed {
        /// Why.
        reason: String,
    },
}

/// A write decided and ready to apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WritePlan {
    /// The scope written.
    pub scope: Scope,
    /// The kind and its report data.
    pub kind: PlanKind,
    /// Vector store changes, in order.
    pub changes: Vec<PlannedChange>,
    /// History rows, with their ids fixed.
    pub history: Vec<HistoryEntry>,
}

/// The marker of a journaled step that is not a whole plan yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Facts extracted; the update decision is still to be made.
    Extracted,
}

/// The facts an add's first model call extracted, journaled before the next step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractedFacts {
    /// Always [`Stage::Extracted`] (tells this record from a whole plan).
    pub stage: Stage,
    /// The facts.
    pub facts: Vec<MemoryText>,
    /// Model calls spent on them.
    pub llm_calls: u32,
}

/// What the journal holds for a write being planned: the facts of its first step, or the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SavedStep {
    /// Facts extracted; planning resumes at the update decision.
    Extracted(ExtractedFacts),
    /// The whole plan, ready to apply (boxed: it is much larger than the facts).
    Planned(Box<WritePlan>),
}
