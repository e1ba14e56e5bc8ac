//! Caps that protect every reader from hostile input (zip bombs, gzip bombs, deep nesting).

/// Limits applied while reading untrusted input. The defaults suit real recordings with headroom;
/// raise them deliberately (the CLI has `--max-bytes` / `--max-ratio`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest decompressed size of one ZIP entry, one gzip body or one `cv` field.
    pub max_entry_bytes: u64,
    /// Largest decompressed size of a whole package.
    pub max_total_bytes: u64,
    /// Largest decompressed/compressed ratio of a ZIP entry whose size exceeds `ratio_floor_bytes`;
    /// also of a whole package: one reader inflates at most `max_ratio` × the package's size plus
    /// `ratio_floor_bytes`, all entries (and `cv` fields) together.
    pub max_ratio: u64,
    /// Entries smaller than this are not checked for ratio on their own (tiny files compress
    /// absurdly well); the same allowance is added to a package's expansion budget.
    pub ratio_floor_bytes: u64,
    /// Most entries in a package.
    pub max_entries: u64,
    /// Deepest JSON nesting accepted where a tree is materialised (DOM snapshots nest deeply).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entry_bytes: 4 << 30,
            max_total_bytes: 64 << 30,
            max_ratio: 200,
            ratio_floor_bytes: 8 << 20,
            max_entries: 1_000_000,
            max_depth: 4096,
        }
    }
}

impl Limits {
    /// Limits with every cap multiplied by `factor` (for `--max-*` style flags).
    pub fn scaled(self, factor: u64) -> Self {
        Limits {
            max_entry_bytes: self.max_entry_bytes.saturating_mul(factor),
            max_total_bytes: self.max_total_bytes.saturating_mul(factor),
            max_ratio: self.max_ratio.saturating_mul(factor),
            ratio_floor_bytes: self.ratio_floor_bytes,
            max_entries: self.max_entries.saturating_mul(factor),
            max_depth: self.max_depth,
        }
    }
}
