//! The components' allocator: a bump allocator with a budget, then the standard one.
//!
//! The host gives each batch a fresh instance and drops its memory with the store, so inside a
//! batch nothing needs to be reused: allocating moves a pointer, freeing the newest block (or
//! growing it, as serde's buffers grow) moves it back, and every other free is a no-op. That
//! replaces dlmalloc's bookkeeping, the guests' largest cost after parsing JSON.
//!
//! An instance that lives longer (a Spin tick runs many pages through one instance) stops
//! bumping once [`BUDGET`] bytes are spent and allocates from the standard allocator (dlmalloc,
//! which grows memory above the bump region) from then on, so it wastes at most the budget.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Bytes the bump region may grow to before allocation falls back to the standard allocator.
pub const BUDGET: usize = 64 << 20;
const PAGE: usize = 64 << 10;
/// Pages the region grows by at least, so a batch grows memory a handful of times.
const STEP: usize = 16;

pub struct Bump {
    /// The region, `[start, end)` of linear memory, and its first free byte.
    start: Cell<usize>,
    next: Cell<usize>,
    end: Cell<usize>,
    /// The budget is spent: new blocks come from [`System`].
    spilled: Cell<bool>,
}

// A component instance runs one thread.
unsafe impl Sync for Bump {}

impl Bump {
    pub const fn new() -> Bump {
        Bump { start: Cell::new(0), next: Cell::new(0), end: Cell::new(0), spilled: Cell::new(false) }
    }

    fn owns(&self, p: *mut u8) -> bool {
        let p = p as usize;
        p >= self.start.get() && p < self.end.get()
    }

    /// The region starts above everything in memory at the first allocation: nothing else
    /// grows memory until the budget is spent.
    fn begin(&self) {
        if self.end.get() == 0 {
            let top = core::arch::wasm32::memory_size(0) * PAGE;
            self.start.set(top);
            self.next.set(top);
            self.end.set(top);
        }
    }

    /// Grows the region to hold `to` (an address), or spends the budget.
    fn reach(&self, to: usize) -> bool {
        if to <= self.end.get() {
            return true;
        }
        if to - self.start.get() > BUDGET {
            self.spilled.set(true);
            return false;
        }
        let pages = (to - self.end.get()).div_ceil(PAGE).max(STEP);
        if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
            self.spilled.set(true);
            return false;
        }
        self.end.set(self.end.get() + pages * PAGE);
        true
    }
}

impl Default for Bump {
    fn default() -> Bump {
        Bump::new()
    }
}

unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !self.spilled.get() {
            self.begin();
            let at = self.next.get().next_multiple_of(layout.align());
            if let Some(to) = at.checked_add(layout.size())
                && self.reach(to)
            {
                self.next.set(to);
                return at as *mut u8;
            }
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        if self.owns(p) {
            if p as usize + layout.size() == self.next.get() {
                self.next.set(p as usize);
            }
        } else {
            unsafe { System.dealloc(p, layout) }
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        if !self.owns(p) {
            return unsafe { System.realloc(p, layout, size) };
        }
        let at = p as usize;
        // The newest block grows (or shrinks) where it is.
        if at + layout.size() == self.next.get() && !self.spilled.get() && self.reach(at + size) {
            self.next.set(at + size);
            return p;
        }
        if size <= layout.size() {
            return p;
        }
        let new = unsafe { self.alloc(Layout::from_size_align_unchecked(size, layout.align())) };
        if !new.is_null() {
            unsafe { std::ptr::copy_nonoverlapping(p, new, layout.size()) };
        }
        new
    }
}
