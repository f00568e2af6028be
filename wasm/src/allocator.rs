//! The artifact's allocator: a free list per size class for small blocks,
//! in front of Talc for everything else.
//!
//! A decision allocates and frees hundreds of small blocks (map entries,
//! strings, reference counts), and through wasmtime Talc's allocate and
//! deallocate (finding a bin, splitting, coalescing) took about a tenth of
//! a household decision. A freed small block here goes onto the list of
//! its class and the next request of that class takes it back: a few loads
//! and stores. Blocks of up to [`LARGEST`] bytes are taken from Talc at the
//! size of their class and never given back to it; a list holds at most
//! what the largest moment of the instance's life needed of that class.
//!
//! Measured on the household decision, alternating with Talc alone in one
//! run: wasmtime 29.9–30.4 → 28.7–28.8 µs, Node 28.4–28.6 → 27.4–27.6 µs;
//! the artifact 1.2 KB gzip larger (the three entry points are kept out of
//! line: inlined at every allocation they added 13 KB).
//!
//! Classes went up to 256 bytes at first; blocks above that (an object's
//! fields, parsed JSON maps, the growing texts of the envelope) still cost
//! Talc 1.6 % of a decision through wasmtime. With classes up to 4 KB, two
//! per power of two above 256 bytes, `eligo batch` of 200,000 households
//! through wasmtime took 4,220–4,250 ms of CPU against 4,280–4,381.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::ptr;

/// The largest block a class serves, in bytes.
pub const LARGEST: usize = 4096;
/// Classes are multiples of this up to [`FINE`] bytes, and every block is
/// aligned to it.
const STEP: usize = 16;
/// The largest class of the fine steps.
const FINE: usize = 256;
/// Above [`FINE`], two classes per power of two: 384, 512, 768, …, 4096.
const COARSE: usize = 8;
const CLASSES: usize = FINE / STEP + COARSE;

/// Size-class free lists over `inner`, for a single thread.
pub struct SizeClasses<A> {
    inner: A,
    /// The first free block of each class; each free block's first word
    /// points to the next.
    free: UnsafeCell<[*mut u8; CLASSES]>,
}

// SAFETY: the artifact is single-threaded (wasm32 without atomics), so no
// two calls into the allocator ever overlap.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
unsafe impl<A: Sync> Sync for SizeClasses<A> {}

impl<A> SizeClasses<A> {
    /// Empty lists in front of `inner`.
    pub const fn new(inner: A) -> Self {
        SizeClasses {
            inner,
            free: UnsafeCell::new([ptr::null_mut(); CLASSES]),
        }
    }
}

/// The class serving `layout`, if a class does.
fn class_of(layout: Layout) -> Option<usize> {
    let size = layout.size();
    if layout.align() > STEP || size > LARGEST {
        return None;
    }
    if size <= FINE {
        return Some(size.max(1).div_ceil(STEP) - 1);
    }
    // The power of two at or above `size` (512 to 4096) and the class of
    // three quarters of it below.
    let power = size.next_power_of_two();
    let first = FINE / STEP + 2 * (power.trailing_zeros() as usize - 9);
    Some(if size <= power / 4 * 3 {
        first
    } else {
        first + 1
    })
}

/// The size of a class's blocks.
fn class_size(class: usize) -> usize {
    if class < FINE / STEP {
        (class + 1) * STEP
    } else {
        let coarse = class - FINE / STEP;
        let power = 512 << (coarse / 2);
        if coarse % 2 == 0 {
            power / 4 * 3
        } else {
            power
        }
    }
}

/// The layout a class's blocks are taken from the inner allocator with.
fn class_layout(class: usize) -> Layout {
    // SAFETY: a class size is non-zero and at most LARGEST, STEP a power
    // of two.
    unsafe { Layout::from_size_align_unchecked(class_size(class), STEP) }
}

unsafe impl<A: GlobalAlloc> GlobalAlloc for SizeClasses<A> {
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class_of(layout) else {
            // SAFETY: the caller's contract, passed on.
            return unsafe { self.inner.alloc(layout) };
        };
        // SAFETY: single-threaded (see `Sync`), and nothing else borrows
        // the lists while this call runs.
        let free = unsafe { &mut *self.free.get() };
        let block = free[class];
        if block.is_null() {
            // SAFETY: a non-zero size.
            return unsafe { self.inner.alloc(class_layout(class)) };
        }
        // SAFETY: a free block of this class, at least STEP bytes and
        // aligned to STEP, whose first word `dealloc` wrote.
        free[class] = unsafe { block.cast::<*mut u8>().read() };
        block
    }

    #[inline(never)]
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(class) = class_of(layout) else {
            // SAFETY: the caller's contract: `block` came from `alloc` with
            // `layout`, which passed it to the inner allocator.
            return unsafe { self.inner.dealloc(block, layout) };
        };
        // SAFETY: as in `alloc`.
        let free = unsafe { &mut *self.free.get() };
        // SAFETY: `block` is a block of this class (the caller gives back
        // the layout it was allocated with), now unused: its first word is
        // ours to write.
        unsafe { block.cast::<*mut u8>().write(free[class]) };
        free[class] = block;
    }

    #[inline(never)]
    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees a valid layout of `new_size`.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class_of(layout), class_of(new_layout)) {
            (Some(old), Some(new)) if old == new => block,
            // SAFETY: large to large stays with the inner allocator, which
            // may grow the block in place.
            (None, None) => unsafe { self.inner.realloc(block, layout, new_size) },
            _ => {
                // SAFETY: the caller's contract for `block` and
                // `new_layout`; the copy stays within both blocks.
                unsafe {
                    let moved = self.alloc(new_layout);
                    if !moved.is_null() {
                        ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                    moved
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn classes_cover_small_aligned_blocks_only() {
        assert_eq!(class_of(layout(0, 1)), Some(0));
        assert_eq!(class_of(layout(1, 1)), Some(0));
        assert_eq!(class_of(layout(16, 8)), Some(0));
        assert_eq!(class_of(layout(17, 8)), Some(1));
        assert_eq!(class_of(layout(256, 16)), Some(15));
        assert_eq!(class_of(layout(257, 8)), Some(16));
        assert_eq!(class_of(layout(384, 8)), Some(16));
        assert_eq!(class_of(layout(385, 8)), Some(17));
        assert_eq!(class_of(layout(512, 8)), Some(17));
        assert_eq!(class_of(layout(513, 8)), Some(18));
        assert_eq!(class_of(layout(3072, 8)), Some(22));
        assert_eq!(class_of(layout(4096, 8)), Some(23));
        assert_eq!(class_of(layout(4097, 8)), None);
        assert_eq!(class_of(layout(8, 32)), None);
        // Every size gets the smallest class that holds it.
        for size in 1..=LARGEST {
            let class = class_of(layout(size, 8)).unwrap();
            assert!(class_size(class) >= size, "{size}");
            assert!(class == 0 || class_size(class - 1) < size, "{size}");
        }
    }

    #[test]
    fn a_freed_block_is_reused_by_its_class_only() {
        let heap = SizeClasses::new(System);
        unsafe {
            let a = heap.alloc(layout(24, 8));
            let b = heap.alloc(layout(24, 8));
            assert_ne!(a, b);
            assert_eq!(a as usize % STEP, 0);
            heap.dealloc(a, layout(24, 8));
            // Another class does not take it; its own class does, last
            // freed first.
            let other = heap.alloc(layout(40, 8));
            assert_ne!(other, a);
            heap.dealloc(b, layout(24, 8));
            assert_eq!(heap.alloc(layout(17, 4)), b);
            assert_eq!(heap.alloc(layout(30, 8)), a);
            let fresh = heap.alloc(layout(24, 8));
            assert!(fresh != a && fresh != b);
        }
    }

    #[test]
    fn realloc_keeps_the_bytes_across_classes_and_sizes() {
        let heap = SizeClasses::new(System);
        unsafe {
            let mut block = heap.alloc(layout(3, 1));
            let mut size = 3;
            for (at, byte) in [7u8, 8, 9].iter().enumerate() {
                block.add(at).write(*byte);
            }
            // Within the class, across classes, to a large block and back.
            for new_size in [16, 100, 256, 4000, 9000, 200, 2] {
                block = heap.realloc(block, layout(size, 1), new_size);
                assert!(!block.is_null());
                let kept = size.min(new_size).min(3);
                let bytes = std::slice::from_raw_parts(block, kept);
                assert_eq!(bytes, &[7, 8, 9][..kept], "{size} → {new_size}");
                size = new_size;
            }
            heap.dealloc(block, layout(size, 1));
        }
    }

    #[test]
    fn large_and_over_aligned_blocks_go_to_the_inner_allocator() {
        let heap = SizeClasses::new(System);
        unsafe {
            let big = heap.alloc(layout(10_000, 8));
            let aligned = heap.alloc(layout(8, 64));
            assert_eq!(aligned as usize % 64, 0);
            heap.dealloc(big, layout(10_000, 8));
            heap.dealloc(aligned, layout(8, 64));
            assert!((*heap.free.get()).iter().all(|head| head.is_null()));
        }
    }

    #[test]
    fn many_blocks_of_every_class_round_trip() {
        let heap = SizeClasses::new(System);
        unsafe {
            let mut live = Vec::new();
            for round in 0..3 {
                for size in 1..=LARGEST {
                    let block = heap.alloc(layout(size, 8));
                    block.write_bytes(size as u8, size);
                    live.push((block, size));
                }
                // Free every other one, check the rest are intact.
                let mut kept = Vec::new();
                for (index, (block, size)) in live.drain(..).enumerate() {
                    if index % 2 == round % 2 {
                        heap.dealloc(block, layout(size, 8));
                    } else {
                        let bytes = std::slice::from_raw_parts(block, size);
                        assert!(bytes.iter().all(|b| *b == size as u8));
                        kept.push((block, size));
                    }
                }
                live = kept;
            }
            for (block, size) in live {
                heap.dealloc(block, layout(size, 8));
            }
        }
    }
}
