//! A request's bytes as text: checked to be UTF-8, the ASCII that most of
//! a request is 16 bytes a step.

use eligo_core::{ErrorBody, ErrorKind};

/// `bytes` as text, or the error answer (JSON) naming where they stop
/// being UTF-8.
pub fn request_text(bytes: &[u8]) -> Result<&str, String> {
    let ascii = ascii_prefix(bytes);
    match std::str::from_utf8(&bytes[ascii..]) {
        // SAFETY: the first `ascii` bytes are ASCII and the rest is UTF-8,
        // so all of `bytes` is.
        Ok(_) => Ok(unsafe { std::str::from_utf8_unchecked(bytes) }),
        // Checked again whole, so the error names its place in the request.
        Err(_) => std::str::from_utf8(bytes).map_err(|e| {
            ErrorBody::new(
                ErrorKind::BadRequest,
                format!("the request is not UTF-8: {e}"),
            )
            .to_json()
        }),
    }
}

/// How many leading bytes are ASCII, in steps of 16 (a multiple of 16, or
/// all of them): where a UTF-8 check of the rest can start.
///
/// A request is mostly ASCII. std's check goes a machine word (4 bytes in
/// wasm32) a step, and wasmtime checks its deadline at every step: the
/// check took 0.29 µs of a household decision in the artifact against
/// 0.02 natively.
fn ascii_prefix(bytes: &[u8]) -> usize {
    let mut at = 0;
    while let Some(block) = bytes.get(at..at + 16) {
        if !is_ascii_block(block) {
            break;
        }
        at += 16;
    }
    if at + 16 > bytes.len() && bytes[at..].is_ascii() {
        bytes.len()
    } else {
        at
    }
}

/// Whether 16 bytes are all ASCII.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn is_ascii_block(block: &[u8]) -> bool {
    use core::arch::wasm32::{u8x16_bitmask, v128};
    assert!(block.len() >= 16);
    // SAFETY: 16 readable bytes (asserted); wasm loads need no alignment.
    let v = unsafe { block.as_ptr().cast::<v128>().read_unaligned() };
    u8x16_bitmask(v) == 0
}

/// Whether 16 bytes are all ASCII.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn is_ascii_block(block: &[u8]) -> bool {
    let word = |at: usize| u64::from_le_bytes(block[at..at + 8].try_into().expect("8 bytes"));
    (word(0) | word(8)) & 0x8080_8080_8080_8080 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ascii_prefix_stops_at_or_before_the_first_other_byte() {
        for len in 0..50 {
            let ascii = vec![b'a'; len];
            assert_eq!(ascii_prefix(&ascii), len);
            for at in 0..len {
                let mut bytes = ascii.clone();
                bytes[at] = 0xe4;
                let prefix = ascii_prefix(&bytes);
                assert!(prefix <= at && prefix % 16 == 0, "{len} {at}: {prefix}");
                assert!(at - prefix < 16);
            }
        }
    }

    #[test]
    fn a_request_is_checked_whole_and_its_error_names_the_place() {
        let text = "{\"entry\":\"household\",\"note\":\"临时救助\"}";
        assert_eq!(request_text(text.as_bytes()), Ok(text));
        for at in [0, 5, 17, 31, text.len() - 1] {
            let mut bytes = text.as_bytes().to_vec();
            bytes[at] = 0xff;
            let error = request_text(&bytes).unwrap_err();
            let expected = std::str::from_utf8(&bytes).unwrap_err().to_string();
            assert!(error.contains(&expected), "{error} / {expected}");
        }
    }
}
