//! Herald configuration (being written).
