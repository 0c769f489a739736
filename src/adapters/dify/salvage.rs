//! Recovering the session of a request line the JSON parser refused (nested deeper than it
//! allows, a number out of range such as `1e5000`, a duplicate key), so that its session still
//! receives `error` then `end` instead of waiting for the daemon's timeout.
//!
//! The scan reads only the top-level keys of the line's object, without recursion (nesting of
//! any depth is skipped by counting brackets) and without reading numbers, so nothing that made the
//! parser give up can stop it. A session is recovered only when the line says unambiguously that it
//! is a request and for which session: `event` is `"request"` and every `session_id` in the line
//! is the same non-empty string.

/// The top-level `session_id` of a request line that did not parse, when it can be told for sure.
pub fn salvage_request_session(line: &str) -> Option<String> {
    let mut scan = Scan { bytes: line.as_bytes(), at: 0 };
    let (mut events, mut sessions) = (Vec::new(), Vec::new());
    scan.skip_ws();
    if !scan.eat(b'{') {
        return None;
    }
    loop {
        scan.skip_ws();
        if scan.peek() != Some(b'"') {
            break;
        }
        let Some(key) = scan.string() else { break };
        scan.skip_ws();
        if !scan.eat(b':') {
            break;
        }
        scan.skip_ws();
        let wanted = match key.as_str() {
            "event" => Some(&mut events),
            "session_id" => Some(&mut sessions),
            _ => None,
        };
        match (wanted, scan.peek()) {
            (Some(found), Some(b'"')) => match scan.string() {
                Some(value) => found.push(Some(value)),
                None => break,
            },
            (found, _) => {
                if let Some(found) = found {
                    found.push(None); // a value that is not a string: never a session of ours
                }
                if !scan.skip_value() {
                    break;
                }
            }
        }
        scan.skip_ws();
        if !scan.eat(b',') {
            break;
        }
    }
    let single = |values: Vec<Option<String>>| -> Option<String> {
        let first = values.first()?.clone()?;
        values.iter().all(|v| v.as_deref() == Some(first.as_str())).then_some(first)
    };
    if single(events)? != "request" {
        return None;
    }
    single(sessions).filter(|s| !s.is_empty())
}

/// A cursor over the bytes of one line.
struct Scan<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let matched = self.peek() == Some(byte);
        if matched {
            self.at += 1;
        }
        matched
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.at += 1;
        }
    }

    /// Reads a JSON string starting at its opening quote; `None` when it is cut or malformed.
    fn string(&mut self) -> Option<String> {
        if !self.eat(b'"') {
            return None;
        }
        let mut raw = vec![b'"'];
        loop {
            let byte = self.peek()?;
            self.at += 1;
            raw.push(byte);
            match byte {
                b'"' => break,
                b'\\' => {
                    raw.push(self.peek()?);
                    self.at += 1;
                }
                _ => {}
            }
        }
        // a string alone nests nothing: the parser reads it whatever made the line fail
        serde_json::from_slice(&raw).ok()
    }

    /// Skips one value of any depth; false when the line ends inside it.
    fn skip_value(&mut self) -> bool {
        match self.peek() {
            Some(b'"') => self.string().is_some(),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                while let Some(byte) = self.peek() {
                    match byte {
                        b'"' => {
                            if self.string().is_none() {
                                return false;
                            }
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return true;
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
                false
            }
            Some(_) => {
                while !matches!(self.peek(), None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n')) {
                    self.at += 1;
                }
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::dify::protocol::InboundMessage;

    fn deep(levels: usize) -> String {
        format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn the_session_of_a_request_the_parser_refuses_is_recovered() {
        let lines = [
            format!(r#"{{"session_id":"S1","event":"request","data":{{"x":{}}}}}"#, deep(5000)),
            r#"{"event":"request","data":{"tool_parameters":{"n":1e5000}},"session_id":"S1"}"#.to_owned(),
            r#"{"session_id":"S1","event":"request","event":"request","data":{}}"#.to_owned(),
            r#"{"session_id":"S1","session_id":"S1","event":"request","data":{}}"#.to_owned(),
            r#" { "session_id" : "S\u0031" , "event" : "request", "data": {"s": "}]\"{", "n": -1e5000} } "#.to_owned(),
            r#"{"session_id":"S1","event":"request","data":{"cut":[1,2"#.to_owned(),
        ];
        for line in &lines {
            assert!(serde_json::from_str::<InboundMessage>(line).is_err(), "the parser reads {line}");
            assert_eq!(salvage_request_session(line).as_deref(), Some("S1"), "{}", &line[..line.len().min(120)]);
        }
    }

    #[test]
    fn nothing_is_recovered_unless_the_line_is_unambiguously_a_request_of_one_session() {
        let lines = [
            r#"{"session_id":"S1","session_id":"S2","event":"request","data":{}}"#,
            r#"{"session_id":"S1","event":"request","event":"backwards_response","data":{}}"#,
            r#"{"session_id":"S1","event":"backwards_response","data":{"n":1e5000}}"#,
            r#"{"session_id":"","event":"request","data":{"n":1e5000}}"#,
            r#"{"session_id":null,"event":"request","data":{"n":1e5000}}"#,
            r#"{"session_id":7,"event":"request","data":{"n":1e5000}}"#,
            r#"{"data":{"n":1e5000},"event":"request"}"#,
            r#"{"session_id":"S1","data":{"n":1e5000}}"#,
            r#"{"data":{"n":1e5000 "session_id":"S1","event":"request"}"#,
            r#"{"data":{"session_id":"S1","event":"request"},"n":1e5000}"#,
            r#"["session_id","S1","event","request"]"#,
            r#"{"session_id":"S1,"event":"request"}"#,
            "",
            "not json",
        ];
        for line in lines {
            assert_eq!(salvage_request_session(line), None, "{line}");
        }
    }
}
