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
/// # Safety
/// `a` and `b` must each be valid for reads of `n` bytes.
#[inline(always)]
pub unsafe fn compare(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n, and the caller vouches for n bytes; wasm
        // loads need no alignment.
        let (x, y) = unsafe {
            (
                a.add(i).cast::<u64>().read_unaligned(),
                b.add(i).cast::<u64>().read_unaligned(),
            )
        };
        if x != y {
            // Little-endian: the lowest differing byte comes first.
            let shift = (x ^ y).trailing_zeros() & !7;
            return i32::from((x >> shift) as u8) - i32::from((y >> shift) as u8);
        }
        i += 8;
    }
    while i < n {
        // SAFETY: i < n.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
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
        for len in 0..40 {
            for _ in 0..200 {
                let a: Vec<u8> = (0..len).map(|_| (next() % 4) as u8 * 85).collect();
                let mut b = a.clone();
                // Most pairs differ in one byte, at any place; some are equal.
                if len > 0 && next() % 8 != 0 {
                    let at = (next() % len as u64) as usize;
                    b[at] = (next() % 256) as u8;
                }
                // SAFETY: both have `len` bytes.
                let got = unsafe { compare(a.as_ptr(), b.as_ptr(), len) };
                assert_eq!(got.signum(), sign(a.cmp(&b)), "{a:?} {b:?}");
                assert_eq!(got == 0, a == b);
                checked += 1;
            }
        }
        assert_eq!(checked, 8000);
        // Bytes above 0x7f compare unsigned.
        // SAFETY: one byte each.
        assert!(unsafe { compare([0x80].as_ptr(), [0x7f].as_ptr(), 1) } > 0);
    }
}
