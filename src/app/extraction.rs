//! The model steps of an add with `infer` on: fact extraction (in the additive mode, shown the
//! related memories) and the update decision. Each asks for a strict schema with a token limit
//! sized to the task and stop sequences, through [`ask`] (time budget, runaway cut, one repair);
//! extracted facts go through the screen (copied from the prompt, other roles, questions,
//! greetings) before they are journaled.

use super::constants::CANDIDATES_PER_FACT;
use super::model_calls::{ask, repair_wording, Answered};
use super::service::{MemoryService, ServiceError};
use crate::domain::answer_schemas::{decisions_schema, facts_schema, DECISIONS_SCHEMA_NAME, FACTS_SCHEMA_NAME};
use crate::domain::call_limits::{decision_max_tokens, extraction_max_tokens, stop_sequences};
use crate::domain::extraction_settings::ExtractionMode;
use crate::domain::facts::{extraction_prompt, read_facts, FactSources, Focus};
use crate::domain::memory::MemoryText;
use crate::domain::operations::AddRequest;
use crate::domain::reconcile::{check_decisions, decision_prompt, Candidates, Operation};
use crate::domain::write_plan::{ExtractedFacts, Stage};
use crate::ports::embedder::EmbedPurpose;
use crate::ports::llm::{AnswerSchema, ChatMessage, ChatRequest, Llm, ResponseFormat};
use crate::ports::vector_store::VectorQuery;
use chrono::Utc;
use tracing::{debug, info};

/// Related memories shown to the additive extraction.
pub const ADDITIVE_RELATED_MEMORIES: usize = 2 * CANDIDATES_PER_FACT;

/// What a repair request says of an answer that only repeated the memories already remembered.
pub const ALL_REMEMBERED: &str = "every fact in it only repeats a memory listed as already remembered; \
write the facts that the conversation itself states (not the remembered ones), or an empty list if it states none";

impl MemoryService {
    /// Whose messages facts come from in this add (the focus, and the assistant when configured).
    fn fact_sources(&self, request: &AddRequest) -> FactSources {
        let focus = Focus::for_add(
            request.scope.user_id().is_some(),
            request.scope.agent_id().is_some(),
            &request.conversation,
        );
        FactSources { focus, assistant_too: self.extraction().assistant_facts }
    }

    /// Step one: the facts of the conversation, screened.
    pub(super) async fn extract_with(
        &self,
        llm: &dyn Llm,
        request: &AddRequest,
    ) -> Result<ExtractedFacts, ServiceError> {
        let sources = self.fact_sources(request);
        let known = match self.extraction().mode {
            ExtractionMode::Additive => self.related_memories(request, sources).await?,
            ExtractionMode::TwoPass => Vec::new(),
        };
        let prompt = extraction_prompt(
            &request.conversation,
            sources,
            request.observed_at.unwrap_or_else(Utc::now).date_naive(),
            self.prompts().fact_extraction.as_deref(),
            &known,
        )
        .in_language(self.prompts().language.as_deref());
        // Facts are screened against every text the prompt may hold: the instructions, and the
        // wording of a repair request with its reasons.
        let prompt_text = format!("{}\n{}\n{ALL_REMEMBERED}", prompt.instructions, repair_wording());
        let screen = sources
            .screen(&request.conversation, &prompt_text)
            .remembering(prompt.remembered.iter().map(MemoryText::as_str));
        let chat = ChatRequest {
            messages: vec![ChatMessage::system(prompt.system()), ChatMessage::user(prompt.user)],
            response_format: schema(FACTS_SCHEMA_NAME, facts_schema()),
            max_tokens: Some(extraction_max_tokens(sources.source_chars(&request.conversation))),
            stop: stop_sequences(),
            ..ChatRequest::default()
        };
        // An answer that only repeats the memories shown as remembered copied them instead of
        // reading the conversation: it is sent back once (then its copies are dropped below).
        let read = |answer: &str| {
            read_facts(answer).map(|facts| {
                let problems = match screen.all_remembered(&facts) {
                    true => vec![ALL_REMEMBERED.to_owned()],
                    false => Vec::new(),
                };
                (facts, problems)
            })
        };
        let Answered { value: facts, calls, .. } =
            ask(llm, chat, "fact extraction", self.extraction().call_budget, read).await?;
        let (facts, dropped) = screen.apply(facts);
        for (fact, reason) in &dropped {
            // The reason and the size only: conversation content stays out of the logs (PRIVACY.md).
            info!(reason = reason.as_str(), chars = fact.as_str().chars().count(), "extracted fact dropped");
        }
        debug!(facts = facts.len(), dropped = dropped.len(), "facts extracted");
        Ok(ExtractedFacts { stage: Stage::Extracted, facts, llm_calls: calls })
    }

    /// Step two: what to do with the new facts given the related stored memories. In the
    /// additive mode every new fact is added and the model is not asked.
    pub(super) async fn decide_with(
        &self,
        llm: &dyn Llm,
        candidates: &Candidates,
        fresh: &[MemoryText],
    ) -> Result<(Vec<Operation>, u32), ServiceError> {
        if candidates.is_empty() || self.extraction().mode == ExtractionMode::Additive {
            return Ok((fresh.iter().cloned().map(|text| Operation::Add { text }).collect(), 0));
        }
        let prompt = decision_prompt(candidates, fresh, self.prompts().update_memory.as_deref());
        let chat = ChatRequest {
            messages: vec![ChatMessage::user(prompt)],
            response_format: schema(DECISIONS_SCHEMA_NAME, decisions_schema(candidates)),
            max_tokens: Some(decision_max_tokens(fresh.len(), candidates.len())),
            stop: stop_sequences(),
            ..ChatRequest::default()
        };
        let read = |answer: &str| {
            check_decisions(answer, candidates).map(|checked| {
                let problems = checked.problems.clone();
                (checked, problems)
            })
        };
        let answered = ask(llm, chat, "update decision", self.extraction().call_budget, read).await?;
        Ok((answered.value.covering(fresh, candidates), answered.calls))
    }

    /// The stored memories closest to what the fact-role messages say (additive mode).
    async fn related_memories(
        &self,
        request: &AddRequest,
        sources: FactSources,
    ) -> Result<Vec<MemoryText>, ServiceError> {
        let said: Vec<&str> = request
            .conversation
            .messages()
            .iter()
            .filter(|m| sources.takes(m.role))
            .map(|m| m.content.as_str())
            .collect();
        if said.is_empty() {
            return Ok(Vec::new());
        }
        let joined = said.join("\n");
        let Some(vector) = self.embed(std::iter::once(joined.as_str()), EmbedPurpose::Search).await?.pop() else {
            return Ok(Vec::new());
        };
        let query =
            VectorQuery { vector, scope: request.scope.clone(), filter: None, limit: ADDITIVE_RELATED_MEMORIES };
        let found = self.backends().vector_store.search(&query).await?;
        Ok(found.into_iter().map(|s| s.record).filter(|r| request.scope.contains(&r.scope)).map(|r| r.text).collect())
    }
}

fn schema(name: &str, schema: serde_json::Value) -> ResponseFormat {
    ResponseFormat::JsonSchema(AnswerSchema { name: name.to_owned(), schema })
}
