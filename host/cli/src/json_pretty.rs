//! Indents compact JSON text for people without parsing it into a map, so
//! the field order of the envelope and every digit of every number stay as
//! the engine wrote them.

/// Two-space indented form of valid compact JSON.
pub fn indent(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = compact.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                let closer = if c == '{' { '}' } else { ']' };
                if chars.peek() == Some(&closer) {
                    out.push(chars.next().expect("peeked"));
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::indent;

    #[test]
    fn indents_like_serde_json_pretty_but_keeps_order_and_digits() {
        let compact = r#"{"z":1,"a":[],"m":{"s":"a,b:{c}\"]","n":[1.10,2]},"e":{}}"#;
        let expected = "{\n  \"z\": 1,\n  \"a\": [],\n  \"m\": {\n    \"s\": \"a,b:{c}\\\"]\",\n    \"n\": [\n      1.10,\n      2\n    ]\n  },\n  \"e\": {}\n}";
        assert_eq!(indent(compact), expected);
        // Same as serde_json's pretty printer on the same (ordered) value.
        let value: serde_json::Value =
            serde_json::from_str(r#"{"a":[1,{"b":null}],"c":"x"}"#).unwrap();
        assert_eq!(
            indent(&value.to_string()),
            serde_json::to_string_pretty(&value).unwrap()
        );
    }
}
