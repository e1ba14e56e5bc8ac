//! Reading a session back: every block, decompressed, each window sorted, windows merged in time order.
use crate::{Error, Result, Store};
use reel_format::recording::{Session, Source};
use reel_format::Event;

impl Store {
    /// The compressed bytes of some blocks of one session, in the same order: those kept in the
    /// index (fresh blocks on SQLite) in one query, the others from the blob store concurrently.
    pub async fn fetch_blocks(
        &self,
        project: &str,
        session: &str,
        blocks: &[&crate::index::BlockRow],
    ) -> Result<Vec<bytes::Bytes>> {
        let mut inline = if blocks.iter().any(|b| crate::ingest::in_index(&b.blob_key)) {
            self.index.session_block_data(project, session).await?
        } else {
            Default::default()
        };
        let fetched = futures::future::join_all(blocks.iter().map(|b| async {
            if crate::ingest::in_index(&b.blob_key) {
                return Ok(bytes::Bytes::new());
            }
            self.blobs.get(&b.blob_key).await
        }))
        .await;
        blocks
            .iter()
            .zip(fetched)
            .map(|(b, f)| {
                if !crate::ingest::in_index(&b.blob_key) {
                    return f;
                }
                inline.remove(&b.id).map(Into::into).ok_or_else(|| {
                    Error::Config(format!(
                        "block {}: its data is missing from the index",
                        b.id
                    ))
                })
            })
            .collect()
    }

    /// The whole session in memory, windows sorted by time. `None` if it does not exist.
    pub async fn load_session(&self, project: &str, id: &str) -> Result<Option<Session>> {
        let Some(row) = self.index.session(project, id).await? else {
            return Ok(None);
        };
        let blocks = self.index.blocks(project, id).await?;
        let fetched = self
            .fetch_blocks(project, id, &blocks.iter().collect::<Vec<_>>())
            .await?;
        let mut s = Session::new(id);
        s.distinct_id = row.distinct_id.clone();
        s.user_agent = row.user_agent.clone();
        s.source = Source {
            system: row.source.clone().unwrap_or_default(),
            lib: row.lib.clone(),
            lib_version: row.lib_version.clone(),
        };
        for (b, bytes) in blocks.iter().zip(fetched) {
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
