//! reel-dom (being written).
