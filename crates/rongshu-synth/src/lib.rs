//! The synthetic city (being written).
