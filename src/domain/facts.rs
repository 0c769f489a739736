//! Pass one of an add: the fact extraction prompt and the parser of its answer.

use super::fact_screen::Screen;
use super::json_answer::{extract_json, UnreadableAnswer};
use super::memory::MemoryText;
use super::message::{Conversation, Role};
use chrono::NaiveDate;
use serde_json::Value;

/// Most facts kept from one extraction answer.
pub const MAX_FACTS_PER_ADD: usize = 50;

/// Whose facts to extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// Facts about the user, from the user's messages (the usual case).
    User,
    /// Facts about the assistant, from its own messages (agent memory: an agent scope without a user).
    Agent,
}

/// Whose messages facts are taken from, and about whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactSources {
    /// About whom.
    pub focus: Focus,
    /// With [`Focus::User`], the assistant's messages are sources too (`fact_roles` holds it);
    /// otherwise they are context only.
    pub assistant_too: bool,
}

impl FactSources {
    /// The user's messages only.
    pub fn user() -> Self {
        Self { focus: Focus::User, assistant_too: false }
    }

    /// True when facts may come from `role`'s messages.
    pub fn takes(self, role: Role) -> bool {
        match (self.focus, role) {
            (Focus::User, Role::User) | (Focus::Agent, Role::Assistant) => true,
            (Focus::User, Role::Assistant) => self.assistant_too,
            _ => false,
        }
    }

    /// The screen that drops facts copied from `instructions` or taken from other roles' messages.
    pub fn screen(self, conversation: &Conversation, instructions: &str) -> Screen {
        let spoken = conversation.messages().iter().filter(|m| m.role != Role::System);
        let (sources, context): (Vec<_>, Vec<_>) = spoken.partition(|m| self.takes(m.role));
        Screen::new(
            instructions,
            sources.iter().map(|m| m.content.as_str()),
            context.iter().map(|m| m.content.as_str()),
        )
    }

    /// Characters of the source messages (sizes the answer's token limit).
    pub fn source_chars(self, conversation: &Conversation) -> usize {
        conversation.messages().iter().filter(|m| self.takes(m.role)).map(|m| m.content.chars().count()).sum()
    }
}

impl Focus {
    /// Agent memory only when the memory belongs to an agent and no user, and the assistant spoke.
    /// (Mem0 1.x also switches when a user is present, which loses the user's facts.)
    pub fn for_add(has_user: bool, has_agent: bool, conversation: &Conversation) -> Self {
        if !has_user && has_agent && conversation.has_assistant() {
            Focus::Agent
        } else {
            Focus::User
        }
    }
}

/// The system and user messages of the extraction call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractionPrompt {
    /// Instructions.
    pub instructions: String,
    /// The memories already stored that the answer must not repeat (the additive mode's related
    /// memories; empty otherwise).
    pub remembered: Vec<MemoryText>,
    /// The conversation to read.
    pub user: String,
}

impl ExtractionPrompt {
    /// Forces the language of the facts (the `language` setting): one instruction appended to
    /// the instructions, after the built-in or custom ones, so it holds for both.
    /// `None` leaves the prompt as is (the facts keep the conversation's language).
    pub fn in_language(mut self, language: Option<&str>) -> Self {
        if let Some(language) = language.map(str::trim).filter(|l| !l.is_empty()) {
            self.instructions.push_str(&format!(
                "\nLanguage: write every fact in {language}, whatever language the conversation uses."
            ));
        }
        self
    }

    /// The system message: the instructions, then the memories already remembered. They are
    /// there rather than beside the conversation because weak models copy what stands next to
    /// the text they are asked to read (and what they read last).
    pub fn system(&self) -> String {
        if self.remembered.is_empty() {
            return self.instructions.clone();
        }
        let listed: Vec<String> = self.remembered.iter().map(|m| format!("- {}", m.as_str())).collect();
        format!("{}\n\n{KNOWN_HEADER}\n{}\n{KNOWN_FOOTER}", self.instructions, listed.join("\n"))
    }
}

/// Builds the extraction prompt. `custom` replaces the built-in instructions entirely
/// (Mem0's `custom_fact_extraction_prompt`); a JSON reminder is appended when it lacks one.
/// `today` is the date the conversation took place (its `timestamp`, else today). The messages
/// of roles facts are not taken from are marked "(context only)". `remembered` memories (the
/// additive mode's related memories) are listed as already remembered, not to be repeated.
pub fn extraction_prompt(
    conversation: &Conversation,
    sources: FactSources,
    today: NaiveDate,
    custom: Option<&str>,
    remembered: &[MemoryText],
) -> ExtractionPrompt {
    let instructions = match custom {
        Some(text) => ensure_json_reminder(text),
        None => builtin_instructions(sources, today),
    };
    let lines: Vec<String> = conversation
        .messages()
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| {
            let marker = if sources.takes(m.role) { "" } else { " (context only)" };
            format!("{}{}: {}", m.role.as_str(), marker, m.content)
        })
        .collect();
    ExtractionPrompt {
        instructions,
        remembered: remembered.to_vec(),
        user: format!("Conversation:\n{}", lines.join("\n")),
    }
}

/// The heading of the memories already stored, in the additive mode's prompt.
pub const KNOWN_HEADER: &str = "Already remembered (never write these again, in any wording):";
/// What follows the memories already stored: where the facts come from instead.
pub const KNOWN_FOOTER: &str =
    "Write only facts that the conversation in the next message states and that are not in this list; \
an empty list when it adds nothing.";

fn builtin_instructions(sources: FactSources, today: NaiveDate) -> String {
    let (subject, source) = match (sources.focus, sources.assistant_too) {
        (Focus::User, false) => ("the user", "the user's own messages"),
        (Focus::User, true) => ("the user", "the user's and the assistant's messages"),
        (Focus::Agent, _) => ("the assistant", "the assistant's own messages"),
    };
    format!(
        "You keep long-term memory for a personal assistant. Read the conversation and write down the \
durable facts it reveals about {subject}: identity, preferences and dislikes, plans and goals, \
relationships, health, work and studies, habits, possessions, places, important dates.\n\
Rules:\n\
- Use only {source}; other messages are context to understand them.\n\
- One self-contained fact per item, short, in the third person without the name of {subject}; \
each fact says something the conversation says, never words of these instructions.\n\
- Write each fact in the language {subject} used.\n\
- The conversation took place on {today}: write relative dates (\"yesterday\", \"last week\", \
\"next month\") as dates counted from that day.\n\
- Skip greetings, thanks, small talk, questions, and anything only true for a moment; \
never write a question as a fact.\n\
- When there is nothing worth remembering, return an empty list.\n\
Answer with JSON only, exactly in this form: {{\"facts\": [\"fact one\", \"fact two\"]}}",
        today = today.format("%Y-%m-%d")
    )
}

fn ensure_json_reminder(text: &str) -> String {
    if text.to_ascii_lowercase().contains("json") {
        text.to_owned()
    } else {
        format!("{text}\n\nAnswer with JSON only, in the form {{\"facts\": [\"…\"]}}.")
    }
}

/// Reads the facts out of the model's answer. Accepts `{"facts": [...]}` (also inside code
/// fences or prose), a bare list, and items that are strings or objects with `fact`/`text`.
/// Blank, duplicate and over-long facts are dropped; at most [`MAX_FACTS_PER_ADD`] are kept.
pub fn parse_facts(answer: &str) -> Vec<MemoryText> {
    read_facts(answer).unwrap_or_default()
}

/// The shape the extraction answer must have.
pub const FACTS_SHAPE: &str = "{\"facts\": [...]}";

/// Like [`parse_facts`], but an answer with no fact list at all (no JSON, JSON of another shape,
/// an empty answer) is an error quoting its start, so it is never taken for "nothing to remember".
pub fn read_facts(answer: &str) -> Result<Vec<MemoryText>, UnreadableAnswer> {
    let items = match extract_json(answer) {
        Some(Value::Object(mut map)) => match map.remove("facts") {
            Some(Value::Array(items)) => items,
            _ => return Err(UnreadableAnswer::of(answer, FACTS_SHAPE)),
        },
        Some(Value::Array(items)) => items,
        _ => return Err(UnreadableAnswer::of(answer, FACTS_SHAPE)),
    };
    let mut facts: Vec<MemoryText> = Vec::new();
    for item in items {
        let text = match item {
            Value::String(s) => s,
            Value::Object(obj) => match obj.get("fact").or_else(|| obj.get("text")) {
                Some(Value::String(s)) => s.clone(),
                _ => continue,
            },
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        if let Ok(fact) = MemoryText::from_model("fact", &text) {
            if !facts.contains(&fact) {
                facts.push(fact);
            }
        }
        if facts.len() == MAX_FACTS_PER_ADD {
            break;
        }
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::Message;

    fn conv() -> Conversation {
        Conversation::new(vec![Message::new(Role::User, "I'm vegetarian"), Message::new(Role::Assistant, "Noted!")])
    }

    #[test]
    fn a_forced_language_is_one_added_instruction_for_builtin_and_custom_prompts() {
        let conversation = Conversation::from_turn("我是素食者", None);
        let today = NaiveDate::from_ymd_opt(2024, 5, 8).unwrap_or_default();
        let plain = extraction_prompt(&conversation, FactSources::user(), today, None, &[]);
        assert_eq!(plain.clone().in_language(None), plain);
        assert_eq!(plain.clone().in_language(Some("  ")), plain);
        let forced = plain.clone().in_language(Some("English"));
        assert!(forced.instructions.starts_with(&plain.instructions));
        assert!(forced
            .system()
            .ends_with("Language: write every fact in English, whatever language the conversation uses."));
        let custom = extraction_prompt(&conversation, FactSources::user(), today, Some("Extract facts as JSON"), &[])
            .in_language(Some("日本語"));
        assert!(custom.system().contains("write every fact in 日本語"), "{}", custom.system());
    }

    #[test]
    fn prompt_knows_the_date_language_rule_and_json() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let p = extraction_prompt(&conv(), FactSources::user(), date, None, &[]);
        assert!(p.system().contains("took place on 2026-11-26"));
        assert!(p.system().contains("language"));
        assert!(p.system().contains("{\"facts\""));
        assert!(p.user.contains("user: I'm vegetarian"));
        assert!(p.user.contains("assistant (context only): Noted!"));
        let agent = FactSources { focus: Focus::Agent, assistant_too: false };
        let agent = extraction_prompt(&conv(), agent, NaiveDate::MIN, None, &[]);
        assert!(agent.system().contains("about the assistant"));
        assert!(agent.user.contains("user (context only)"));
        let both = FactSources { focus: Focus::User, assistant_too: true };
        let both = extraction_prompt(&conv(), both, date, None, &[MemoryText::parse("m", "Likes tea").unwrap()]);
        assert!(both.user.contains("\nassistant: Noted!") && both.system().contains("the assistant's messages"));
        assert!(both.user.starts_with("Conversation:\n"), "{}", both.user);
        assert!(!both.user.contains("Likes tea"), "the remembered memories stay out of the conversation's message");
    }

    #[test]
    fn remembered_memories_close_the_system_message_after_any_language_rule() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap_or_default();
        let tea = MemoryText::parse("m", "Likes tea").unwrap();
        let p = extraction_prompt(&conv(), FactSources::user(), date, None, std::slice::from_ref(&tea))
            .in_language(Some("English"));
        let system = p.system();
        assert!(system.starts_with(&p.instructions), "{system}");
        assert!(
            system.ends_with(&format!("\n\n{KNOWN_HEADER}\n- Likes tea\n{KNOWN_FOOTER}")),
            "the list comes last, after the language rule: {system}"
        );
        assert!(p.instructions.ends_with("whatever language the conversation uses."));
        assert!(!p.user.contains("Likes tea"));
        let custom = extraction_prompt(&conv(), FactSources::user(), date, Some("Return json."), &[tea]);
        assert_eq!(custom.system(), format!("Return json.\n\n{KNOWN_HEADER}\n- Likes tea\n{KNOWN_FOOTER}"));
    }

    #[test]
    fn the_builtin_prompt_has_no_example_fact_to_copy() {
        let p = extraction_prompt(&conv(), FactSources::user(), NaiveDate::MIN, None, &[]);
        let screen = FactSources::user().screen(&Conversation::from_turn("I play chess", None), &p.system());
        for copied in ["fact one", "Fact two", "durable facts", "identity, preferences and dislikes"] {
            let fact = MemoryText::parse("f", copied).unwrap();
            assert!(screen.check(&fact).is_some(), "{copied} passes the screen");
        }
        assert_eq!(screen.check(&MemoryText::parse("f", "Plays chess").unwrap()), None);
    }

    #[test]
    fn custom_prompt_replaces_the_builtin_and_gets_a_json_reminder() {
        let p = extraction_prompt(&conv(), FactSources::user(), NaiveDate::MIN, Some("Only list food habits."), &[]);
        assert!(p.system().starts_with("Only list food habits."));
        assert!(p.system().contains("JSON"));
        let p = extraction_prompt(&conv(), FactSources::user(), NaiveDate::MIN, Some("Return json."), &[]);
        assert_eq!(p.system(), "Return json.");
    }

    #[test]
    fn focus_is_agent_only_without_a_user() {
        assert_eq!(Focus::for_add(true, true, &conv()), Focus::User);
        assert_eq!(Focus::for_add(false, true, &conv()), Focus::Agent);
        let user_only = Conversation::from_turn("hi", None);
        assert_eq!(Focus::for_add(false, true, &user_only), Focus::User);
    }

    #[test]
    fn answers_are_parsed_tolerantly() {
        let texts = |a: &str| parse_facts(a).into_iter().map(|f| f.as_str().to_owned()).collect::<Vec<_>>();
        assert_eq!(texts("{\"facts\": [\"Likes tea\", \" \", \"Likes tea\"]}"), vec!["Likes tea"]);
        assert_eq!(
            texts("```json\n{\"facts\": [{\"fact\": \"A\"}, {\"text\": \"B\"}, 3, null]}\n```"),
            vec!["A", "B", "3"]
        );
        assert_eq!(texts("Here you go: [\"X\"]"), vec!["X"]);
        // U+0000 in the model's words is dropped, the fact kept (PostgreSQL cannot store it)
        assert_eq!(texts("{\"facts\": [\"Likes\\u0000 tea\"]}"), vec!["Likes tea"]);
        assert!(texts("{\"facts\": []}").is_empty());
        assert!(texts("I could not find anything").is_empty());
        assert!(texts("{\"memories\": [\"x\"]}").is_empty());
        // Unreadable answers are errors, an empty list is not.
        assert_eq!(read_facts("{\"facts\": []}"), Ok(vec![]));
        for bad in
            ["", "I could not find anything", "{\"memories\": [\"x\"]}", "{\"facts\": [\"cut", "{\"facts\": \"x\"}"]
        {
            let err = read_facts(bad).unwrap_err();
            assert_eq!(err.expected, FACTS_SHAPE, "{bad}");
        }
        let many = format!("{{\"facts\": [{}]}}", (0..80).map(|i| format!("\"f{i}\"")).collect::<Vec<_>>().join(","));
        assert_eq!(texts(&many).len(), MAX_FACTS_PER_ADD);
    }
}
