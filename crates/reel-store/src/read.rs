//! Reading a session back: every block, decompressed, each window sorted, windows merged in time order.
use crate::{Error, Result, Store};
use reel_format::recording::{Session, Source};
use reel_format::Event;

impl Store {
    /// A block's compressed bytes, from the index (fresh blocks on SQLite) or the blob store.
    pub async fn block_bytes(&self, b: &crate::index::BlockRow) -> Result<bytes::Bytes> {
        if crate::ingest::in_index(&b.blob_key) {
            let data = self.index.block_data(&b.id).await?.ok_or_else(|| {
                Error::Config(format!(
                    "block {}: its data is missing from the index",
                    b.id
                ))
            })?;
            return Ok(data.into());
        }
        self.blobs.get(&b.blob_key).await
    }

    /// The whole session in memory, windows sorted by time. `None` if it does not exist.
    pub async fn load_session(&self, project: &str, id: &str) -> Result<Option<Session>> {
        let Some(row) = self.index.session(project, id).await? else {
            return Ok(None);
        };
        let blocks = self.index.blocks(project, id).await?;
        let fetched = futures::future::join_all(blocks.iter().map(|b| self.block_bytes(b))).await;
        let mut s = Session::new(id);
        s.distinct_id = row.distinct_id.clone();
        s.user_agent = row.user_agent.clone();
        s.source = Source {
            system: row.source.clone().unwrap_or_default(),
            lib: row.lib.clone(),
            lib_version: row.lib_version.clone(),
        };
        for (b, bytes) in blocks.iter().zip(fetched) {
            let bytes = bytes?;
            let events = tokio::task::block_in_place(|| decode_block(&bytes))
                .map_err(|e| Error::Config(format!("block {}: {e}", b.blob_key)))?;
            s.window_mut(&b.window_id).events.extend(events);
        }
        s.sort();
        Ok(Some(s))
    }
}

/// Decompress a zstd JSONL block into events.
pub fn decode_block(bytes: &[u8]) -> std::result::Result<Vec<Event>, String> {
    let raw = zstd::stream::decode_all(bytes).map_err(|e| e.to_string())?;
    let text = String::from_utf8(raw).map_err(|_| "not UTF-8".to_string())?;
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| Event::parse(l).map_err(|e| e.to_string()))
        .collect()
}
