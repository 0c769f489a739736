//! How long a write's model answers may be: token limits sized to the task, and the stop sequences
//! that end a runaway answer. The configured `max_tokens` stays the ceiling (see the LLM port).

/// Fewest tokens an extraction answer is allowed.
pub const MIN_EXTRACTION_TOKENS: u32 = 256;
/// Most tokens an extraction answer is allowed.
pub const MAX_EXTRACTION_TOKENS: u32 = 1024;
/// Fewest tokens a decision answer is allowed.
pub const MIN_DECISION_TOKENS: u32 = 256;
/// Most tokens a decision answer is allowed.
pub const MAX_DECISION_TOKENS: u32 = 4096;
/// Tokens allowed per decision item (id, event, text, old text; small models indent their JSON).
pub const TOKENS_PER_DECISION: u32 = 100;

/// Sequences that end an answer: four line breaks in a row never occur in a JSON answer and are
/// what a grammar-constrained small model emits when it loops on whitespace.
pub const STOP_SEQUENCES: &[&str] = &["\n\n\n\n"];

/// The stop sequences as owned strings.
pub fn stop_sequences() -> Vec<String> {
    STOP_SEQUENCES.iter().map(|s| (*s).to_owned()).collect()
}

/// The token limit of a fact extraction over `source_chars` characters of messages: the facts are
/// never longer than what they come from (about 4 characters a token), with room for the JSON.
pub fn extraction_max_tokens(source_chars: usize) -> u32 {
    let wanted = 64 + source_chars / 3;
    u32::try_from(wanted).unwrap_or(u32::MAX).clamp(MIN_EXTRACTION_TOKENS, MAX_EXTRACTION_TOKENS)
}

/// The token limit of an update decision: one item per new fact and per stored candidate.
pub fn decision_max_tokens(facts: usize, candidates: usize) -> u32 {
    let items = u32::try_from(facts + candidates).unwrap_or(u32::MAX);
    items.saturating_mul(TOKENS_PER_DECISION).saturating_add(64).clamp(MIN_DECISION_TOKENS, MAX_DECISION_TOKENS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_scale_with_the_task_within_bounds() {
        assert_eq!(extraction_max_tokens(10), MIN_EXTRACTION_TOKENS);
        assert_eq!(extraction_max_tokens(1500), 564);
        assert_eq!(extraction_max_tokens(1_000_000), MAX_EXTRACTION_TOKENS);
        assert_eq!(decision_max_tokens(1, 0), MIN_DECISION_TOKENS);
        assert_eq!(decision_max_tokens(3, 10), 13 * 100 + 64);
        assert!(decision_max_tokens(4, 10) > decision_max_tokens(3, 10));
        assert_eq!(decision_max_tokens(500, 500), MAX_DECISION_TOKENS);
    }
}
