//! JSON strings written fast, byte for byte as serde_json writes them.
//!
//! An envelope is mostly text (reasons, clauses, parameter names), and
//! serde_json looks up every byte of it in an escape table. Here eight
//! bytes are checked at once, and the table is consulted only in a word
//! that holds a quote, a backslash or a control character. With the
//! envelope and the rules' result written this way, the benchmark
//! household's decision (a 2.8 KB envelope, most of it Chinese) went from
//! 22.4 to 21.3 µs.

/// Appends `text` as a JSON string, escaped exactly as serde_json escapes
/// it: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, any other control
/// character as `\u00xx`, everything else as it is.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut at = 0;
    while at < bytes.len() {
        if let Some(word) = bytes.get(at..at + 8) {
            let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
            if !may_need_escape(word) {
                at += 8;
                continue;
            }
        }
        let byte = bytes[at];
        let escape = escape_of(byte);
        if escape != 0 {
            out.extend_from_slice(&bytes[start..at]);
            if escape == b'u' {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0xf)]);
            } else {
                out.push(b'\\');
                out.push(escape);
            }
            start = at + 1;
        }
        at += 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether any of the eight bytes of `word` is below 0x20, `"` or `\`
/// (exact: the bit tricks can misplace which byte, never whether one is).
fn may_need_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS != 0;
    let has_byte_below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0;
    has_byte_below_space
        || has_zero_byte(word ^ (ONES * u64::from(b'"')))
        || has_zero_byte(word ^ (ONES * u64::from(b'\\')))
}

/// What follows the backslash for `byte`; 0 when it is written as it is.
fn escape_of(byte: u8) -> u8 {
    match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x0c => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        0x00..=0x1f => b'u',
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(text: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_character_below_0x100_is_written_as_serde_json_writes_it() {
        for code in 0..0x100u32 {
            let c = char::from_u32(code).unwrap();
            let text = c.to_string();
            assert_eq!(
                written(&text),
                serde_json::to_string(&text).unwrap(),
                "U+{code:04X}"
            );
        }
    }

    #[test]
    fn escapes_at_every_place_in_a_word_and_across_words() {
        let specials = [
            "\"", "\\", "\n", "\u{1}", "\u{1f}", "\t", "\u{7f}", "é", "临",
        ];
        for len in 0..40 {
            for special in specials {
                for at in 0..=len {
                    let mut text: String = "住户说明abc".chars().cycle().take(len).collect();
                    let at = text.char_indices().nth(at).map_or(text.len(), |(i, _)| i);
                    text.insert_str(at, special);
                    assert_eq!(
                        written(&text),
                        serde_json::to_string(&text).unwrap(),
                        "{text:?}"
                    );
                }
            }
        }
    }
}
