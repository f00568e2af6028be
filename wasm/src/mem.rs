//! `memcmp` and `bcmp` eight bytes at a time, for the artifact.
//!
//! On wasm32 the compiler's own `memcmp` (compiler-builtins, which has no
//! libc to call) compares one byte per loop step, and every string
//! comparison and ordering goes through it: map lookups by name, sorting,
//! the loader's many `BTreeMap` inserts. A cold bundle load in Node spent
//! 13.8 ms of about 120 in it; with these, twelve alternating cold runs
//! of load and first decision took a median of 106.5 ms against 120.4
//! (a warm decision is unchanged, 40.5 µs). These definitions replace the
//! built-in ones, which are weak symbols, in the artifact only (where, as
//! `#[no_mangle]` functions of a cdylib, they are also exported); natively
//! libc's are used. [`compare`] is the whole logic, tested natively
//! against slice ordering; the parity suites run it in the artifact.

/// `memcmp`'s answer for `n` bytes at `a` and `b`: negative, zero or
/// positive as the first differing byte (unsigned) is smaller, absent or
/// larger in `a`.
///
/// Up to 16 bytes (most names and keys) it runs no loop: two loads that
/// may overlap cover the bytes. Longer runs go 16 bytes a step. In wasmtime
/// every loop step also checks the epoch deadline, which nearly doubled
/// this function's time on the byte-at-a-time and 8-byte loops.
///
/// # Safety
/// `a` and `b` must each be valid for reads of `n` bytes.
#[inline(always)]
pub unsafe fn compare(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY (every read below): each reads 8 or 4 bytes starting at an
    // offset no greater than n - 8 or n - 4, so within the n bytes the
    // caller vouches for; wasm loads need no alignment.
    let word = |p: *const u8, at: usize| unsafe { p.add(at).cast::<u64>().read_unaligned() };
    let half = |p: *const u8, at: usize| unsafe { p.add(at).cast::<u32>().read_unaligned() };
    if n >= 8 {
        let mut at = 0;
        while at + 16 <= n {
            let (x, y) = (word(a, at), word(b, at));
            if x != y {
                return first_difference(x, y);
            }
            let (x, y) = (word(a, at + 8), word(b, at + 8));
            if x != y {
                return first_difference(x, y);
            }
            at += 16;
        }
        // What is left, 0 to 15 bytes, in at most two words that may
        // overlap bytes already found equal: the lowest differing byte of
        // a word is still the first differing byte.
        if at + 8 <= n {
            let (x, y) = (word(a, at), word(b, at));
            if x != y {
                return first_difference(x, y);
            }
        }
        if at < n {
            let (x, y) = (word(a, n - 8), word(b, n - 8));
            if x != y {
                return first_difference(x, y);
            }
        }
        return 0;
    }
    if n >= 4 {
        let (x, y) = (half(a, 0), half(b, 0));
        if x != y {
            return first_difference(u64::from(x), u64::from(y));
        }
        let (x, y) = (half(a, n - 4), half(b, n - 4));
        return if x != y {
            first_difference(u64::from(x), u64::from(y))
        } else {
            0
        };
    }
    if n == 0 {
        return 0;
    }
    // 1 to 3 bytes as one number in which the first byte weighs most:
    // (first, middle, last) orders as the bytes do.
    // SAFETY: 0, n / 2 and n - 1 are below n.
    let key = |p: *const u8| unsafe {
        (i32::from(*p) << 16) | (i32::from(*p.add(n / 2)) << 8) | i32::from(*p.add(n - 1))
    };
    key(a) - key(b)
}

/// The order of the first differing byte of two unequal little-endian
/// words: the lowest one.
#[inline(always)]
fn first_difference(x: u64, y: u64) -> i32 {
    let shift = (x ^ y).trailing_zeros() & !7;
    i32::from((x >> shift) as u8) - i32::from((y >> shift) as u8)
}

/// # Safety
/// As C's `memcmp`.
#[cfg(target_family = "wasm")]
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: as the caller's.
    unsafe { compare(a, b, n) }
}

/// # Safety
/// As C's `bcmp` (zero exactly when the bytes are equal).
#[cfg(target_family = "wasm")]
#[no_mangle]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: as the caller's.
    unsafe { compare(a, b, n) }
}

#[cfg(test)]
mod tests {
    use super::compare;

    fn sign(ordering: std::cmp::Ordering) -> i32 {
        ordering as i32
    }

    #[test]
    fn orders_as_slices_do_at_every_length_and_offset() {
        // A small deterministic generator: no dependency, same cases always.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut checked = 0;
        for len in 0..70 {
            for _ in 0..200 {
                let a: Vec<u8> = (0..len).map(|_| (next() % 4) as u8 * 85).collect();
                let mut b = a.clone();
                // Most pairs differ in one or two bytes, at any place; some
                // are equal.
                for _ in 0..2 {
                    if len > 0 && next() % 8 != 0 {
                        let at = (next() % len as u64) as usize;
                        b[at] = (next() % 256) as u8;
                    }
                }
                // SAFETY: both have `len` bytes.
                let got = unsafe { compare(a.as_ptr(), b.as_ptr(), len) };
                assert_eq!(got.signum(), sign(a.cmp(&b)), "{a:?} {b:?}");
                assert_eq!(got == 0, a == b);
                checked += 1;
            }
        }
        assert_eq!(checked, 14_000);
        // Bytes above 0x7f compare unsigned.
        // SAFETY: one byte each.
        assert!(unsafe { compare([0x80].as_ptr(), [0x7f].as_ptr(), 1) } > 0);
    }
}
