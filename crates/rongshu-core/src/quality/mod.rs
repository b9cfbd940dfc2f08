//! Quality rules for delivered batches (in progress).
