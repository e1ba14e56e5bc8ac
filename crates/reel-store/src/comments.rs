//! Comments at a time of a recording: plain text (no markup is interpreted anywhere), an author
//! label, the offset from the session's start. They live in the index beside their session and go
//! with it: a deletion, forget-a-person and retention remove them in the deletion's own
//! transaction (see `Index::delete_session`). Packages carry them as
//! `sessions/<id>/comments.json` (reel-format's `package::comments`).
use crate::index::{strings, Index};
use crate::{Error, Result};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

pub use reel_format::package::comments::{check_text as check, MAX_AUTHOR_CHARS, MAX_TEXT_CHARS};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comment {
    pub id: String,
    pub session_id: String,
    /// Offset from the session's start (its first event), ms.
    pub at_ms: i64,
    pub text: String,
    /// A label chosen by whoever wrote it ("" when none was given).
    pub author: String,
    pub created_ms: i64,
}

/// A comment id from elsewhere (a package being imported) that may be stored as it is: 1 to 64
/// characters of `[A-Za-z0-9._-]`.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn comment_of(r: &AnyRow) -> Result<Comment> {
    Ok(Comment {
        id: r.try_get("id")?,
        session_id: r.try_get("session_id")?,
        at_ms: r.try_get("at_ms")?,
        text: r.try_get("text")?,
        author: r.try_get("author")?,
        created_ms: r.try_get("created_ms")?,
    })
}

impl Index {
    /// Add a comment to a session (text and author through [`check`]; `at_ms` ≥ 0). `None`: no
    /// such session. The id is a new uuid v7, the time now.
    pub async fn add_comment(
        &self,
        project: &str,
        session: &str,
        at_ms: i64,
        text: &str,
        author: &str,
    ) -> Result<Option<Comment>> {
        let (text, author) = check(text, author).map_err(Error::Config)?;
        let c = Comment {
            id: uuid::Uuid::now_v7().to_string(),
            session_id: session.to_string(),
            at_ms: at_ms.max(0),
            text,
            author,
            created_ms: crate::now_ms(),
        };
        Ok(self.insert_comment(project, &c).await?.map(|_| c))
    }

    /// Store a comment as it is (an import: its id, time and author kept; text and author are
    /// checked again). `None`: no such session; `Some(false)`: a comment of that id is there
    /// already (importing twice stores it once).
    pub async fn insert_comment(&self, project: &str, c: &Comment) -> Result<Option<bool>> {
        check(&c.text, &c.author).map_err(Error::Config)?;
        if !valid_id(&c.id) {
            return Err(Error::Config(format!(
                "comment id {:?}: 1 to 64 characters of A-Z a-z 0-9 . _ -",
                c.id
            )));
        }
        let _w = self.writer().await;
        let mut tx = self.pool.begin().await?;
        // The same lock a deletion takes: a comment is never added to a session being deleted
        // (it would outlive it).
        self.lock_session(&mut tx, project, &c.session_id, false)
            .await?;
        let n = sqlx::query("INSERT INTO comments (project_id, id, session_id, at_ms, text, author, created_ms) SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM sessions WHERE project_id = $1 AND id = $3) ON CONFLICT (project_id, id) DO NOTHING")
            .bind(project)
            .bind(&c.id)
            .bind(&c.session_id)
            .bind(c.at_ms.max(0))
            .bind(&c.text)
            .bind(&c.author)
            .bind(c.created_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let exists = n > 0
            || !strings(
                &sqlx::query("SELECT id FROM sessions WHERE project_id = $1 AND id = $2")
                    .bind(project)
                    .bind(&c.session_id)
                    .fetch_all(&mut *tx)
                    .await?,
                "id",
            )?
            .is_empty();
        tx.commit().await?;
        Ok(exists.then_some(n > 0))
    }

    /// A session's comments in time order (then in the order they were written).
    pub async fn comments(&self, project: &str, session: &str) -> Result<Vec<Comment>> {
        let rows = sqlx::query("SELECT id, session_id, at_ms, text, author, created_ms FROM comments WHERE project_id = $1 AND session_id = $2 ORDER BY at_ms, created_ms, id")
            .bind(project)
            .bind(session)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(comment_of).collect()
    }

    /// Delete one comment for good (its text overwritten in the index files: SQLite's
    /// `secure_delete` and a WAL truncate). Returns it, or `None` when there was no such comment.
    pub async fn delete_comment(&self, project: &str, id: &str) -> Result<Option<Comment>> {
        let gone = {
            let _w = self.writer().await;
            let mut tx = self.pool.begin().await?;
            let row = sqlx::query("SELECT id, session_id, at_ms, text, author, created_ms FROM comments WHERE project_id = $1 AND id = $2")
                .bind(project)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else {
                tx.rollback().await?;
                return Ok(None);
            };
            let c = comment_of(&row)?;
            sqlx::query("DELETE FROM comments WHERE project_id = $1 AND id = $2")
                .bind(project)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            c
        };
        self.note_deletion();
        self.reclaim().await?;
        Ok(Some(gone))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn imported_ids_are_plain() {
        assert!(super::valid_id("0192f0c1-7a3e-7b00-8000-000000000000"));
        assert!(
            !super::valid_id("../x") && !super::valid_id("") && !super::valid_id(&"a".repeat(65))
        );
    }
}
