//! The last look at extracted facts before they are kept: a fact the model copied from the
//! prompt's own instructions or examples (not found in the conversation), a fact that only repeats
//! a memory shown as already remembered (the additive mode), a fact taken only from messages of
//! roles the configuration does not take facts from, a question and a greeting are dropped, each
//! with its reason. Words are compared, not strings, so small rewordings still match.

use super::memory::MemoryText;
use std::collections::HashSet;

/// Share of a fact's words found in the instructions from which it is taken to be copied.
pub const ECHO_SHARE: f64 = 0.75;
/// Share of a fact's words found in the messages below which it is not grounded in them.
pub const GROUNDED_SHARE: f64 = 0.5;

/// Why a fact was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Its words are the prompt's, not the conversation's (a copied example).
    CopiedFromPrompt,
    /// Its words are those of the memories shown as already remembered, not the conversation's.
    AlreadyRemembered,
    /// Its words come from messages of a role facts are not taken from.
    NotFromFactRoles,
    /// A question is no fact.
    Question,
    /// A greeting or thanks is no fact.
    Greeting,
}

impl DropReason {
    /// A short name for logs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::CopiedFromPrompt => "copied_from_prompt",
            DropReason::AlreadyRemembered => "already_remembered",
            DropReason::NotFromFactRoles => "not_from_fact_roles",
            DropReason::Question => "question",
            DropReason::Greeting => "greeting",
        }
    }
}

/// What the facts are checked against.
#[derive(Debug, Clone, Default)]
pub struct Screen {
    instructions: HashSet<String>,
    remembered: HashSet<String>,
    sources: HashSet<String>,
    context: HashSet<String>,
}

impl Screen {
    /// A screen for facts extracted with `instructions` (the system text and any example) from a
    /// conversation whose fact-role messages are `sources` and other messages `context`.
    pub fn new<'a>(
        instructions: &str,
        sources: impl IntoIterator<Item = &'a str>,
        context: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let collect = |texts: &mut dyn Iterator<Item = &'a str>| texts.flat_map(words).collect();
        Self {
            instructions: words(instructions).into_iter().collect(),
            remembered: HashSet::new(),
            sources: collect(&mut sources.into_iter()),
            context: collect(&mut context.into_iter()),
        }
    }

    /// The same screen, also dropping facts that only repeat the memories the prompt showed as
    /// already remembered (their words, not the conversation's).
    pub fn remembering<'a>(mut self, memories: impl IntoIterator<Item = &'a str>) -> Self {
        self.remembered = memories.into_iter().flat_map(words).collect();
        self
    }

    /// True when `facts` has some and every one of them only repeats a memory already remembered:
    /// an answer that copied the shown memories instead of reading the conversation.
    pub fn all_remembered(&self, facts: &[MemoryText]) -> bool {
        !facts.is_empty() && facts.iter().all(|f| self.check(f) == Some(DropReason::AlreadyRemembered))
    }

    /// Why `fact` must be dropped, if it must (see [`Screen::pass`]).
    pub fn check(&self, fact: &MemoryText) -> Option<DropReason> {
        self.pass(fact).err()
    }

    /// The fact as kept — without the questions it carries ("Went to a support group. How are
    /// you?" keeps its first sentence) — or why it is dropped.
    pub fn pass(&self, fact: &MemoryText) -> Result<MemoryText, DropReason> {
        let statements = without_questions(fact.as_str());
        if statements.is_empty() {
            return Err(DropReason::Question);
        }
        let text = statements.as_str();
        if is_greeting(text) {
            return Err(DropReason::Greeting);
        }
        let fact_words = words(text);
        if !fact_words.is_empty() {
            let share = |set: &HashSet<String>| {
                fact_words.iter().filter(|w| set.contains(*w)).count() as f64 / fact_words.len() as f64
            };
            let in_conversation =
                fact_words.iter().filter(|w| self.sources.contains(*w) || self.context.contains(*w)).count() as f64
                    / fact_words.len() as f64;
            if share(&self.instructions) >= ECHO_SHARE && in_conversation < GROUNDED_SHARE {
                return Err(DropReason::CopiedFromPrompt);
            }
            if share(&self.remembered) >= ECHO_SHARE && in_conversation < GROUNDED_SHARE {
                return Err(DropReason::AlreadyRemembered);
            }
            if share(&self.sources) < GROUNDED_SHARE && share(&self.context) >= ECHO_SHARE {
                return Err(DropReason::NotFromFactRoles);
            }
        }
        if statements == fact.as_str() {
            return Ok(fact.clone());
        }
        MemoryText::from_model("fact", &statements).map_err(|_| DropReason::Question)
    }

    /// The facts kept (questions taken out of them) and the ones dropped with their reason, in order.
    pub fn apply(&self, facts: Vec<MemoryText>) -> (Vec<MemoryText>, Vec<(MemoryText, DropReason)>) {
        let mut kept: Vec<MemoryText> = Vec::new();
        let mut dropped = Vec::new();
        for fact in facts {
            match self.pass(&fact) {
                Ok(text) if !kept.contains(&text) => kept.push(text),
                Ok(_) => {}
                Err(reason) => dropped.push((fact, reason)),
            }
        }
        (kept, dropped)
    }
}

/// `text` without its questions: the sentences ending with a question mark are left out.
fn without_questions(text: &str) -> String {
    let mut kept = String::new();
    let mut sentence = String::new();
    for c in text.chars() {
        sentence.push(c);
        if matches!(c, '.' | '!' | '?' | '？' | '。' | '！') {
            if !matches!(c, '?' | '？') {
                kept.push_str(&sentence);
            }
            sentence.clear();
        }
    }
    kept.push_str(&sentence);
    kept.trim().to_owned()
}

/// Words that say nothing about whom a fact is about.
const STOP_WORDS: &[&str] = &[
    "the",
    "and",
    "for",
    "with",
    "that",
    "this",
    "from",
    "has",
    "have",
    "had",
    "was",
    "were",
    "are",
    "not",
    "who",
    "user",
    "assistant",
    "their",
    "they",
    "them",
    "his",
    "her",
    "she",
    "its",
    "but",
    "also",
    "very",
    "about",
    "into",
    "will",
    "would",
    "been",
    "being",
    "does",
    "did",
    "than",
    "then",
    "there",
    "what",
    "when",
    "which",
    "your",
    "you",
];

/// Share of the meaningful words of `part` that are also in `whole` (0 when `part` has none).
pub fn word_share(part: &str, whole: &str) -> f64 {
    let part = words(part);
    if part.is_empty() {
        return 0.0;
    }
    let whole: HashSet<String> = words(whole).into_iter().collect();
    part.iter().filter(|w| whole.contains(*w)).count() as f64 / part.len() as f64
}

/// The words of `text` that carry meaning: lower case, 3 letters or more, no stop word, cut to
/// their first 6 characters (so "hiking" and "hikings", "vegetarian" and "vegetarians" match).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 3 && !STOP_WORDS.contains(&w.as_str()))
        .map(|w| w.chars().take(6).collect())
        .collect()
}

/// True for a greeting, thanks or farewell with nothing else in it.
fn is_greeting(text: &str) -> bool {
    const GREETING_WORDS: &[&str] = &[
        "hi",
        "hello",
        "hey",
        "thanks",
        "thank",
        "you",
        "bye",
        "goodbye",
        "good",
        "morning",
        "evening",
        "afternoon",
        "night",
        "greeted",
        "greets",
        "greeting",
        "said",
        "says",
        "welcome",
        "nice",
        "to",
        "meet",
        "the",
        "user",
        "assistant",
        "a",
        "an",
        "see",
        "later",
        "cheers",
        "there",
        "everyone",
        "all",
        "again",
        "so",
        "much",
    ];
    let all: Vec<String> =
        text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    !all.is_empty() && all.len() <= 6 && all.iter().all(|w| GREETING_WORDS.contains(&w.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(text: &str) -> MemoryText {
        MemoryText::parse("fact", text).unwrap()
    }

    const INSTRUCTIONS: &str = "Write short facts, for example \"Is vegetarian\" or \"Works as a nurse in Lisbon\".";

    #[test]
    fn facts_copied_from_the_prompt_are_dropped_unless_the_conversation_says_them() {
        let screen = Screen::new(INSTRUCTIONS, ["I moved to Porto last year and I play chess"], ["Nice!"]);
        assert_eq!(screen.check(&fact("Works as a nurse in Lisbon")), Some(DropReason::CopiedFromPrompt));
        assert_eq!(screen.check(&fact("Caroline is a vegetarian")), None, "one word of two: not a copy");
        assert_eq!(screen.check(&fact("Is vegetarian")), Some(DropReason::CopiedFromPrompt));
        assert_eq!(screen.check(&fact("Moved to Porto last year")), None);
        let nurse = Screen::new(INSTRUCTIONS, ["I work as a nurse in Lisbon, I'm vegetarian"], []);
        assert_eq!(nurse.check(&fact("Works as a nurse in Lisbon")), None);
        assert_eq!(nurse.check(&fact("Is vegetarian")), None);
    }

    #[test]
    fn facts_that_only_repeat_a_remembered_memory_are_dropped() {
        let remembered =
            ["Caroline is keen on counseling or working in mental health", "Runs, reads, plays the violin"];
        let screen = Screen::new(
            INSTRUCTIONS,
            ["Caroline: Is this your own painting?"],
            ["Melanie: I painted that lake sunrise"],
        )
        .remembering(remembered);
        let copy = fact("Caroline is keen on counseling or working in mental health");
        assert_eq!(screen.check(&copy), Some(DropReason::AlreadyRemembered));
        assert_eq!(screen.check(&fact("Plays the violin and runs")), Some(DropReason::AlreadyRemembered));
        assert!(screen.all_remembered(std::slice::from_ref(&copy)));
        let new = fact("Asked whether the lake sunrise painting is Melanie's own");
        assert_eq!(screen.check(&new), None);
        assert!(!screen.all_remembered(&[copy.clone(), new]));
        assert!(!screen.all_remembered(&[]));
        // Said again in the conversation: kept (the store's own dedup decides).
        let again =
            Screen::new("", ["I'm still keen on counseling or working in mental health"], []).remembering(remembered);
        assert_eq!(again.check(&copy), None);
        // Without memories nothing is taken for one.
        assert_eq!(Screen::new("", ["Is this your painting?"], []).check(&copy), None);
    }

    #[test]
    fn facts_from_other_roles_questions_and_greetings_are_dropped() {
        let screen = Screen::new("", ["Yes, I adopted two cats"], ["Adoption agencies in Berlin offer counselling"]);
        assert_eq!(
            screen.check(&fact("Adoption agencies in Berlin offer counselling")),
            Some(DropReason::NotFromFactRoles)
        );
        assert_eq!(screen.check(&fact("Adopted two cats")), None);
        assert_eq!(screen.check(&fact("What are you doing this weekend?")), Some(DropReason::Question));
        let trimmed = screen.pass(&fact("Adopted two cats last week. How are you? Anything new?")).unwrap();
        assert_eq!(trimmed.as_str(), "Adopted two cats last week.");
        assert_eq!(screen.check(&fact("Hey, good morning")), Some(DropReason::Greeting));
        assert_eq!(screen.check(&fact("Thanks!")), Some(DropReason::Greeting));
        assert_eq!(screen.check(&fact("Hi there!")), Some(DropReason::Greeting));
        assert_eq!(screen.check(&fact("Says hello to the assistant")), Some(DropReason::Greeting));
        let (kept, dropped) = screen.apply(vec![fact("Adopted two cats"), fact("Hi")]);
        assert_eq!((kept, dropped), (vec![fact("Adopted two cats")], vec![(fact("Hi"), DropReason::Greeting)]));
    }
}
