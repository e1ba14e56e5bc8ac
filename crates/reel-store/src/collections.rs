//! Collections: named lists of a project's recordings, and the share links that open a whole
//! collection. A collection holds session ids only; deleting a session (or a person, or
//! retention) takes it out of every collection in the deletion's own transaction (see
//! `Index::delete_session`), and deleting a collection leaves its sessions alone but revokes its
//! share links.
use crate::index::{strings, Index};
use crate::{Error, Result};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

/// Longest collection name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// Most collections a project may hold.
pub const MAX_COLLECTIONS: i64 = 10_000;
/// Most sessions in one collection.
pub const MAX_SESSIONS: i64 = 100_000;
/// Most session ids one call may add or remove.
pub const MAX_BATCH: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collection {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Sessions in it now.
    pub session_count: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// What adding sessions did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Added {
    /// Newly in the collection.
    pub added: Vec<String>,
    /// Were in it already.
    pub already: Vec<String>,
    /// No such session in the project (nothing stored for them).
    pub unknown: Vec<String>,
}

/// A name and description as stored: trimmed, without control characters, within the limits.
pub fn check(name: &str, description: &str) -> std::result::Result<(String, String), String> {
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_control() || *c == '\n')
            .collect::<String>()
            .trim()
            .to_string()
    };
    let name = clean(name).replace('\n', " ");
    let description = clean(description);
    if name.is_empty() {
        return Err("name: give the collection a name".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("name: at most {MAX_NAME_CHARS} characters"));
    }
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(format!(
            "description: at most {MAX_DESCRIPTION_CHARS} characters"
        ));
    }
    Ok((name, description))
}

const COLS: &str = "c.id, c.name, c.description, c.created_ms, c.updated_ms, (SELECT COUNT(*) FROM collection_sessions m WHERE m.project_id = c.project_id AND m.collection_id = c.id) AS session_count";

fn collection_of(r: &AnyRow) -> Result<Collection> {
    Ok(Collection {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        session_count: r.try_get("session_count")?,
        created_ms: r.try_get("created_ms")?,
        updated_ms: r.try_get("updated_ms")?,
    })
}

impl Index {
    /// A new, empty collection (name and description through [`check`]).
    pub async fn create_collection(
        &self,
        project: &str,
        name: &str,
        description: &str,
    ) -> Result<Collection> {
        let (name, description) = check(name, description).map_err(Error::Config)?;
        let now = crate::now_ms();
        let id = uuid::Uuid::now_v7().to_string();
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM collections WHERE project_id = $1")
            .bind(project)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if n >= MAX_COLLECTIONS {
            return Err(Error::Config(format!(
                "this project holds {MAX_COLLECTIONS} collections already: delete some first"
            )));
        }
        sqlx::query("INSERT INTO collections (project_id, id, name, description, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $5)")
            .bind(project)
            .bind(&id)
            .bind(&name)
            .bind(&description)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Collection {
            id,
            name,
            description,
            session_count: 0,
            created_ms: now,
            updated_ms: now,
        })
    }

    /// Every collection of the project, most recently changed first.
    pub async fn collections(&self, project: &str) -> Result<Vec<Collection>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM collections c WHERE c.project_id = $1 ORDER BY c.updated_ms DESC, c.id DESC"
        )))
        .bind(project)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(collection_of).collect()
    }

    pub async fn collection(&self, project: &str, id: &str) -> Result<Option<Collection>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM collections c WHERE c.project_id = $1 AND c.id = $2"
        )))
        .bind(project)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(collection_of).transpose()
    }

    /// Rename or describe a collection (`None`: unchanged). `None` back: no such collection.
    pub async fn update_collection(
        &self,
        project: &str,
        id: &str,
        name: Option<&str>,
        description: Option<&str>,
    ) -> Result<Option<Collection>> {
        let Some(cur) = self.collection(project, id).await? else {
            return Ok(None);
        };
        let (name, description) = check(
            name.unwrap_or(&cur.name),
            description.unwrap_or(&cur.description),
        )
        .map_err(Error::Config)?;
        let _w = self.writer().await;
        sqlx::query("UPDATE collections SET name = $1, description = $2, updated_ms = $3 WHERE project_id = $4 AND id = $5")
            .bind(&name)
            .bind(&description)
            .bind(crate::now_ms())
            .bind(project)
            .bind(id)
            .execute(&self.pool)
            .await?;
        drop(_w);
        self.collection(project, id).await
    }

    /// Delete a collection: its list and its share links go; its sessions stay. `false`: no such
    /// collection.
    pub async fn delete_collection(&self, project: &str, id: &str) -> Result<bool> {
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("DELETE FROM collections WHERE project_id = $1 AND id = $2")
            .bind(project)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        for sql in [
            "DELETE FROM collection_sessions WHERE project_id = $1 AND collection_id = $2",
            "DELETE FROM shares WHERE project_id = $1 AND collection_id = $2",
        ] {
            sqlx::query(sql)
                .bind(project)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Add sessions to a collection (at most [`MAX_BATCH`] ids a call; repeated ids count once).
    /// `None`: no such collection. Ids of sessions the project does not hold are reported, not
    /// stored; a session being deleted at the same moment is never left linked.
    pub async fn add_to_collection(
        &self,
        project: &str,
        id: &str,
        sessions: &[String],
    ) -> Result<Option<Added>> {
        if sessions.len() > MAX_BATCH {
            return Err(Error::Config(format!(
                "at most {MAX_BATCH} sessions a call; send the rest in further calls"
            )));
        }
        let mut ids: Vec<&String> = Vec::new();
        for s in sessions {
            if !ids.contains(&s) {
                ids.push(s);
            }
        }
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT (SELECT COUNT(*) FROM collection_sessions WHERE project_id = $1 AND collection_id = $2) AS n FROM collections WHERE project_id = $1 AND id = $2")
            .bind(project)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut count: i64 = row.try_get("n")?;
        let now = crate::now_ms();
        let mut out = Added::default();
        for s in ids {
            self.lock_session(&mut tx, project, s, false).await?;
            let exists = !strings(
                &sqlx::query("SELECT id FROM sessions WHERE project_id = $1 AND id = $2")
                    .bind(project)
                    .bind(s)
                    .fetch_all(&mut *tx)
                    .await?,
                "id",
            )?
            .is_empty();
            if !exists {
                out.unknown.push(s.clone());
                continue;
            }
            if count >= MAX_SESSIONS {
                return Err(Error::Config(format!(
                    "a collection holds at most {MAX_SESSIONS} sessions"
                )));
            }
            let n = sqlx::query("INSERT INTO collection_sessions (project_id, collection_id, session_id, added_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (project_id, collection_id, session_id) DO NOTHING")
                .bind(project)
                .bind(id)
                .bind(s)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                count += 1;
                out.added.push(s.clone());
            } else {
                out.already.push(s.clone());
            }
        }
        if !out.added.is_empty() {
            sqlx::query("UPDATE collections SET updated_ms = $1 WHERE project_id = $2 AND id = $3")
                .bind(now)
                .bind(project)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Some(out))
    }

    /// Take sessions out of a collection (the sessions stay). `None`: no such collection; else
    /// how many were in it.
    pub async fn remove_from_collection(
        &self,
        project: &str,
        id: &str,
        sessions: &[String],
    ) -> Result<Option<u64>> {
        if sessions.len() > MAX_BATCH {
            return Err(Error::Config(format!(
                "at most {MAX_BATCH} sessions a call; send the rest in further calls"
            )));
        }
        if self.collection(project, id).await?.is_none() {
            return Ok(None);
        }
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let mut n = 0;
        for s in sessions {
            n += sqlx::query("DELETE FROM collection_sessions WHERE project_id = $1 AND collection_id = $2 AND session_id = $3")
                .bind(project)
                .bind(id)
                .bind(s)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        if n > 0 {
            sqlx::query("UPDATE collections SET updated_ms = $1 WHERE project_id = $2 AND id = $3")
                .bind(crate::now_ms())
                .bind(project)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Some(n))
    }

    /// The ids of a collection's sessions, oldest recording first.
    pub async fn collection_sessions(&self, project: &str, id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT m.session_id FROM collection_sessions m JOIN sessions s ON s.project_id = m.project_id AND s.id = m.session_id WHERE m.project_id = $1 AND m.collection_id = $2 ORDER BY s.start_ms, s.id")
            .bind(project)
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        strings(&rows, "session_id")
    }

    /// Whether the session is in the collection.
    pub async fn in_collection(&self, project: &str, id: &str, session: &str) -> Result<bool> {
        let row = sqlx::query("SELECT session_id FROM collection_sessions WHERE project_id = $1 AND collection_id = $2 AND session_id = $3")
            .bind(project)
            .bind(id)
            .bind(session)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// The collections a session is in.
    pub async fn collections_of_session(
        &self,
        project: &str,
        session: &str,
    ) -> Result<Vec<Collection>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM collections c WHERE c.project_id = $1 AND EXISTS (SELECT 1 FROM collection_sessions x WHERE x.project_id = c.project_id AND x.collection_id = c.id AND x.session_id = $2) ORDER BY c.name, c.id"
        )))
        .bind(project)
        .bind(session)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(collection_of).collect()
    }

    /// A share link opening a whole collection; returns (share id, token). Only the token's hash
    /// is stored; revoke it with [`Index::revoke_share`].
    pub async fn create_collection_share(
        &self,
        project: &str,
        collection: &str,
        expires_ms: Option<i64>,
    ) -> Result<(String, String)> {
        self.insert_share(project, "", Some(collection), expires_ms)
            .await
    }

    /// The (project, collection) a live collection share token opens.
    pub async fn collection_share(&self, token: &str) -> Result<Option<(String, String)>> {
        self.live_share(token, "collection_id").await
    }

    /// A collection's share links (live, expired and revoked).
    pub async fn list_collection_shares(
        &self,
        project: &str,
        collection: &str,
    ) -> Result<Vec<serde_json::Value>> {
        self.shares_where(project, "collection_id", collection)
            .await
    }
}
