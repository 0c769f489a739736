//! One model call of a write, bounded and repaired: the call has a time budget (the LLM block's
//! `timeout`, else 30 s, so a sync add's ceiling holds both steps with one repair each); a
//! runaway answer (one stretch repeated to the token limit) is cut, and what is left of a list is
//! closed after its last whole item when that makes it readable (an answer cut at the token limit
//! too, after the repair); an answer that cannot be read,
//! or whose items are wrong, is sent back once with what was wrong and the schema; a second
//! unreadable answer fails the step, quoting it (never read as "nothing to remember").

use super::constants::MODEL_ANSWER_ATTEMPTS;
use super::service::ServiceError;
use crate::domain::json_answer::{excerpt, UnreadableAnswer};
use crate::domain::runaway::{close_after_cut, close_open_string, find_runaway};
use crate::ports::llm::{ChatMessage, ChatRequest, Llm, LlmError, Usage};
use std::time::Duration;
use tracing::{info, warn, Instrument};

/// Characters of a bad answer shown back to the model in a repair request.
pub const REPAIR_ECHO_CHARS: usize = 2000;

/// What a reader made of an answer: the value, and the mistakes in the items it had to drop
/// (empty when the answer was fully usable).
pub type Reading<T> = (T, Vec<String>);

/// The outcome of a step's calls.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered<T> {
    /// What was read.
    pub value: T,
    /// Calls made (1 or 2).
    pub calls: u32,
    /// Tokens used by the calls, as the provider reported them.
    pub usage: Usage,
}

/// Asks the model for one step of a write and reads the answer with `read` (see the module).
pub async fn ask<T>(
    llm: &dyn Llm,
    mut request: ChatRequest,
    step: &'static str,
    budget: Duration,
    read: impl Fn(&str) -> Result<Reading<T>, UnreadableAnswer>,
) -> Result<Answered<T>, ServiceError> {
    let mut usage = Usage::default();
    let mut calls = 0;
    loop {
        calls += 1;
        let chat = llm.chat(request.clone()).instrument(tracing::debug_span!("app.llm"));
        let answer = match tokio::time::timeout(budget, chat).await {
            Ok(answer) => answer?,
            Err(_) => return Err(ServiceError::Llm(LlmError::Timeout(budget))),
        };
        if let Some(u) = answer.usage {
            usage.prompt_tokens += u.prompt_tokens;
            usage.completion_tokens += u.completion_tokens;
        }
        let content = answer.content.unwrap_or_default();
        let runaway = find_runaway(&content);
        if let Some(runaway) = &runaway {
            warn!(step, copies = runaway.copies, cut_chars = runaway.cut_chars, "runaway model answer cut");
        }
        let text = runaway.as_ref().map_or(content.as_str(), |r| r.kept.as_str());
        let last = calls >= MODEL_ANSWER_ATTEMPTS;
        // What is left of a runaway is closed after its last whole item (the rest only repeated it);
        // so is an answer cut at the token limit once the repair is spent (its whole items kept,
        // better than failing the write over its last one).
        let reading = match (read(text), runaway.is_some() || last) {
            (Err(error), true) => match close_after_cut(text)
                .and_then(|closed| read(&closed).ok())
                // A runaway inside one item, once the repair is spent: that item up to its first copy.
                .or_else(|| {
                    let once = runaway.as_ref().filter(|_| last).map(|r| r.once.as_str())?;
                    close_open_string(once).and_then(|closed| read(&closed).ok())
                }) {
                Some(reading) => {
                    if runaway.is_none() {
                        warn!(step, "model answer cut off; its whole items are kept");
                    }
                    Ok(reading)
                }
                None => Err(error),
            },
            (reading, _) => reading,
        };
        let trouble = match reading {
            Ok((value, problems)) if problems.is_empty() || last => {
                if !problems.is_empty() {
                    warn!(step, dropped = problems.len(), "model answer items dropped after the repair");
                }
                info!(
                    step,
                    calls,
                    prompt_tokens = usage.prompt_tokens,
                    completion_tokens = usage.completion_tokens,
                    "model answer read"
                );
                return Ok(Answered { value, calls, usage });
            }
            Ok((_, problems)) => problems.join("; "),
            Err(error) if last => return Err(ServiceError::UnreadableAnswer { step, attempts: calls, answer: error }),
            Err(error) => error.to_string(),
        };
        warn!(step, attempt = calls, error = %excerpt(&trouble), "model answer not usable; asking for a repair");
        request = repair_request(request, text, &trouble, runaway.is_some());
    }
}

/// The wording of a repair request, piece by piece (see [`repair_wording`]).
const REPAIR_UNUSABLE: &str = "Your answer could not be used:";
const REPAIR_RUNAWAY: &str = " It repeated itself until it was cut off; give each item once and close the JSON.";
const REPAIR_UNFINISHED: &str =
    " It stopped before the JSON was complete; give fewer and shorter items, one sentence each.";
const REPAIR_AGAIN: &str = " Answer again with the corrected JSON only, no other text";
const REPAIR_SCHEMA: &str = ", following this JSON Schema: ";

/// Every sentence a repair request may add to the prompt, so facts copied from it (a weak model
/// answering the repair with its words) are recognised as the prompt's, not the conversation's.
pub(super) fn repair_wording() -> String {
    [REPAIR_UNUSABLE, REPAIR_RUNAWAY, REPAIR_UNFINISHED, REPAIR_AGAIN, REPAIR_SCHEMA, "JSON Schema"].concat()
}

/// The request again, with the bad answer and what was wrong with it (and the schema, when one
/// was asked for) as the next turns.
fn repair_request(mut request: ChatRequest, answer: &str, trouble: &str, runaway: bool) -> ChatRequest {
    let shown: String = answer.chars().take(REPAIR_ECHO_CHARS).collect();
    let mut text = format!("{REPAIR_UNUSABLE} {trouble}.");
    let unfinished = !answer.trim_end().ends_with(['}', ']']);
    if runaway {
        text.push_str(REPAIR_RUNAWAY);
    } else if unfinished && !answer.trim().is_empty() {
        // Most likely cut at the token limit: ask for less, and allow a little more.
        text.push_str(REPAIR_UNFINISHED);
        request.max_tokens = request.max_tokens.map(|limit| limit.saturating_add(limit / 2));
    }
    text.push_str(REPAIR_AGAIN);
    match request.response_format.schema() {
        Some(schema) => text.push_str(&format!("{REPAIR_SCHEMA}{}", schema.schema)),
        None => text.push('.'),
    }
    request.messages.push(ChatMessage::assistant(if shown.trim().is_empty() {
        "(no answer)".to_owned()
    } else {
        shown
    }));
    request.messages.push(ChatMessage::user(text));
    request
}
