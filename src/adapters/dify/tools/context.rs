//! The `context` output of a search: a block an LLM node can take as is, one line per memory
//! (`- [2024-05-08] Loves sushi`), most relevant first, never longer than `max_context_chars`.

use crate::domain::memory::ScoredMemory;

/// `max_context_chars` when the parameter is not given.
pub(super) const DEFAULT_MAX_CONTEXT_CHARS: usize = 2_000;
/// Smallest `max_context_chars` accepted.
pub(super) const MIN_MAX_CONTEXT_CHARS: usize = 50;
/// Largest `max_context_chars` accepted.
pub(super) const MAX_MAX_CONTEXT_CHARS: usize = 100_000;
/// What ends a line cut to fit the bound.
const CUT_MARK: char = '…';

/// The context of `hits` (already most relevant first) in at most `max_chars` characters.
/// Each line carries the date of the memory: when the conversation happened (`observed_at`) if
/// known, else when it was stored. Lines are whole; only a first line longer than the bound is
/// cut (ending in `…`), so the block is never empty while there are hits.
pub(super) fn context_block(hits: &[ScoredMemory], max_chars: usize) -> String {
    let mut block = String::new();
    let mut used = 0usize;
    for hit in hits {
        let record = &hit.record;
        let date = record.observed_at.unwrap_or(record.created_at).format("%Y-%m-%d");
        // A memory's text may hold line breaks: one memory stays one line.
        let text = record.text.as_str().split_whitespace().collect::<Vec<_>>().join(" ");
        let line = format!("- [{date}] {text}");
        let separator = usize::from(!block.is_empty());
        let len = line.chars().count();
        if used + separator + len <= max_chars {
            if separator == 1 {
                block.push('\n');
            }
            block.push_str(&line);
            used += separator + len;
            continue;
        }
        if block.is_empty() && max_chars > 0 {
            block.extend(line.chars().take(max_chars - 1));
            block.push(CUT_MARK);
        }
        break;
    }
    block
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::memory::{MemoryId, MemoryRecord, MemoryText, Similarity};
    use crate::domain::scope::{EntityId, Scope};
    use chrono::{TimeZone, Utc};

    fn hit(text: &str, day: u32, observed: Option<u32>) -> ScoredMemory {
        let at = |d: u32| Utc.with_ymd_and_hms(2024, 5, d, 12, 0, 0).single().unwrap_or_default();
        let user = EntityId::parse("user_id", "u").unwrap_or_else(|e| panic!("{e}"));
        let scope = Scope::new(Some(user), None, None).unwrap_or_else(|e| panic!("{e}"));
        let record = MemoryRecord::new(
            MemoryId::from_uuid(uuid::Uuid::new_v4()),
            MemoryText::parse("text", text).unwrap_or_else(|e| panic!("{e}")),
            Default::default(),
            scope,
            at(day),
        )
        .observed(observed.map(at));
        ScoredMemory { record, score: Similarity::from_cosine(0.5), rerank_score: None, parts: None }
    }

    #[test]
    fn one_dated_line_per_memory_in_the_given_order() {
        let hits = [hit("Loves sushi", 3, None), hit("Lives in\nBerlin", 4, Some(1))];
        assert_eq!(context_block(&hits, 1000), "- [2024-05-03] Loves sushi\n- [2024-05-01] Lives in Berlin");
    }

    #[test]
    fn bounded_by_whole_lines_and_a_long_first_line_is_cut() {
        let hits = [hit("Loves sushi", 3, None), hit("Lives in Berlin", 4, None)];
        let first = "- [2024-05-03] Loves sushi";
        assert_eq!(context_block(&hits, first.len() + 5), first);
        let cut = context_block(&hits, 10);
        assert_eq!(cut.chars().count(), 10);
        assert!(cut.ends_with('…') && cut.starts_with("- [2024-0"), "{cut}");
        assert_eq!(context_block(&[], 100), "");
    }
}
