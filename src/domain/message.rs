//! Conversation messages handed to `add`.

use serde::{Deserialize, Serialize};

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions to the model (never a source of user facts).
    System,
    /// The end user.
    User,
    /// The assistant / agent.
    Assistant,
}

impl Role {
    /// The role as Mem0 and OpenAI spell it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The speaker.
    pub role: Role,
    /// What was said.
    pub content: String,
}

impl Message {
    /// A message with the given role and content.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self { role, content: content.into() }
    }
}

/// The messages of an add, with blank ones removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Conversation(Vec<Message>);

impl Conversation {
    /// Keeps the non-blank messages (trimmed), in order.
    pub fn new(messages: Vec<Message>) -> Self {
        Self(
            messages
                .into_iter()
                .filter_map(|m| {
                    let content = m.content.trim();
                    (!content.is_empty()).then(|| Message::new(m.role, content))
                })
                .collect(),
        )
    }

    /// The Dify tool's shape: a user message and an optional assistant reply (dropped when identical).
    pub fn from_turn(user: &str, assistant: Option<&str>) -> Self {
        let mut messages = vec![Message::new(Role::User, user)];
        if let Some(reply) = assistant.filter(|a| a.trim() != user.trim()) {
            messages.push(Message::new(Role::Assistant, reply));
        }
        Self::new(messages)
    }

    /// The messages.
    pub fn messages(&self) -> &[Message] {
        &self.0
    }

    /// True when nothing but blank messages was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when some message is the assistant's.
    pub fn has_assistant(&self) -> bool {
        self.0.iter().any(|m| m.role == Role::Assistant)
    }

    /// `role: content` lines without system messages, as the extraction prompts and graph input use.
    pub fn transcript(&self) -> String {
        self.0
            .iter()
            .filter(|m| m.role != Role::System)
            .map(|m| format!("{}: {}", m.role.as_str(), m.content))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_messages_are_dropped_and_duplicates_of_the_user_turn_too() {
        let conv = Conversation::from_turn(" I like tea ", Some("I like tea"));
        assert_eq!(conv.messages(), &[Message::new(Role::User, "I like tea")]);
        assert!(Conversation::from_turn("  ", Some(" ")).is_empty());
        let conv = Conversation::from_turn("hi", Some("hello"));
        assert!(conv.has_assistant());
        assert_eq!(conv.transcript(), "user: hi\nassistant: hello");
    }
}
