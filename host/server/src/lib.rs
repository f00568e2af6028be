//! `eligo serve`.
