//! [`Accounts`], carried out once for both databases: operators, sessions,
//! failed sign-ins and the audit log. Every statement reads the same on SQLite
//! and PostgreSQL; an account change and its audit entry commit together.

use async_trait::async_trait;

use super::shared::SqlStore;
use super::sql::{Backend, Exec, Sql};
use super::*;
use crate::clock::to_ms;
use crate::domain::audit::Action;
use crate::error::Error;

#[async_trait]
impl<B: Backend> Accounts for SqlStore<B> {
    async fn create_operator(&self, op: &NewOperator<'_>, by: &Actor) -> Result<i64> {
        let now = to_ms(op.now);
        let mut tx = self.0.begin_write().await?;
        let (id,): (i64,) = Sql::new(
            "INSERT INTO operators (username, role, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (username) DO NOTHING RETURNING id",
        )
        .bind(op.username.as_str())
        .bind(op.role.as_str())
        .bind(op.password_hash)
        .bind(now)
        .fetch_optional(&mut tx)
        .await?
        .ok_or_else(|| Error::Conflict(format!("an operator named '{}' exists", op.username)))?;
        let entry = Entry {
            at: op.now,
            actor: by,
            action: Action::OperatorCreated,
            subject: Some(op.username.to_string()),
            details: serde_json::json!({ "role": op.role }),
        };
        insert_audit(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn operators(&self) -> Result<Vec<OperatorInfo>> {
        Sql::new(
            "SELECT o.username, o.role, o.created_at, o.disabled_at, \
             (SELECT COUNT(*) FROM sessions s WHERE s.operator_id = o.id) \
             FROM operators o ORDER BY o.username",
        )
        .fetch_all(&mut self.0.read().await?)
        .await
    }

    async fn operator_login(&self, username: &Username) -> Result<Option<OperatorLogin>> {
        Sql::new(
            "SELECT id, username, role, password_hash, disabled_at IS NOT NULL \
             FROM operators WHERE username = $1",
        )
        .bind(username.as_str())
        .fetch_optional(&mut self.0.read().await?)
        .await
    }

    async fn change_operator(
        &self,
        username: &Username,
        change: AccountChange<'_>,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.0.begin_write().await?;
        let (sql, action) = match change {
            AccountChange::Disable => (
                "UPDATE operators SET disabled_at = COALESCE(disabled_at, $2), updated_at = $2 \
                 WHERE username = $1 RETURNING id",
                Action::OperatorDisabled,
            ),
            AccountChange::Password(_) => (
                "UPDATE operators SET password_hash = $3, updated_at = $2 \
                 WHERE username = $1 RETURNING id",
                Action::PasswordReset,
            ),
        };
        let mut update = Sql::new(sql).bind(username.as_str()).bind(to_ms(now));
        if let AccountChange::Password(hash) = change {
            update = update.bind(hash);
        }
        let Some((id,)) = update.fetch_optional::<(i64,)>(&mut tx).await? else {
            return Ok(false);
        };
        let ended = Sql::new("DELETE FROM sessions WHERE operator_id = $1")
            .bind(id)
            .execute(&mut tx)
            .await?;
        // A supervisor's reset (or disabling) also lifts the account's lock-out.
        Sql::new("DELETE FROM sign_in_failures WHERE key = $1")
            .bind(format!("account:{username}").as_str())
            .execute(&mut tx)
            .await?;
        let entry = Entry {
            at: now,
            actor: by,
            action,
            subject: Some(username.to_string()),
            details: serde_json::json!({ "sessions_ended": ended }),
        };
        insert_audit(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn sign_in_failures(&self, keys: &[&str]) -> Result<Vec<Failures>> {
        let mut conn = self.0.read().await?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(failures(&mut conn, key).await?);
        }
        Ok(out)
    }

    async fn sign_in_failed(&self, keys: &[(&str, Lockout)], now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.0.begin_write().await?;
        for (key, rule) in keys {
            // Locked (the row, or all of SQLite): two failures at once count twice.
            B::lock_key(&mut tx, key, 0).await?;
            let after = rule.fail(failures(&mut tx, key).await?, now);
            Sql::new(
                "INSERT INTO sign_in_failures (key, failures, last_at, locked_until) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO UPDATE SET \
                 failures = excluded.failures, last_at = excluded.last_at, \
                 locked_until = excluded.locked_until",
            )
            .bind(*key)
            .bind(after.count)
            .bind(to_ms(now))
            .bind(after.locked_until.map_or(0, to_ms))
            .execute(&mut tx)
            .await?;
        }
        Ok(tx.commit().await?)
    }

    async fn sign_in_cleared(&self, key: &str) -> Result<()> {
        let sql = Sql::new("DELETE FROM sign_in_failures WHERE key = $1").bind(key);
        self.write(sql, None).await?;
        Ok(())
    }

    async fn create_session(&self, session: &NewSession<'_>, by: &Actor) -> Result<()> {
        let mut tx = self.0.begin_write().await?;
        Sql::new(
            "INSERT INTO sessions (id_hash, operator_id, csrf, created_at, seen_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(session.id_hash)
        .bind(session.operator_id)
        .bind(session.csrf)
        .bind(to_ms(session.now))
        .execute(&mut tx)
        .await?;
        let entry = Entry {
            at: session.now,
            actor: by,
            action: Action::SignedIn,
            subject: None,
            details: serde_json::json!({}),
        };
        insert_audit(&mut tx, &entry).await?;
        Ok(tx.commit().await?)
    }

    async fn session(&self, id_hash: &str) -> Result<Option<SessionRow>> {
        Sql::new(
            "SELECT s.operator_id, o.username, o.role, o.disabled_at IS NOT NULL, s.csrf, \
             s.created_at, s.seen_at FROM sessions s JOIN operators o ON o.id = s.operator_id \
             WHERE s.id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&mut self.0.read().await?)
        .await
    }

    async fn session_seen(&self, id_hash: &str, now: DateTime<Utc>) -> Result<()> {
        let sql = Sql::new("UPDATE sessions SET seen_at = $2 WHERE id_hash = $1")
            .bind(id_hash)
            .bind(to_ms(now));
        self.write(sql, None).await?;
        Ok(())
    }

    async fn end_sessions(
        &self,
        which: EndSessions<'_>,
        by: Option<&Actor>,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let mut tx = self.0.begin_write().await?;
        let (ended, action) = match which {
            EndSessions::One(id_hash) => (
                Sql::new("DELETE FROM sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&mut tx)
                    .await?,
                Action::SignedOut,
            ),
            EndSessions::AllOf(operator_id) => (
                Sql::new("DELETE FROM sessions WHERE operator_id = $1")
                    .bind(operator_id)
                    .execute(&mut tx)
                    .await?,
                Action::SignedOutEverywhere,
            ),
        };
        if let Some(actor) = by {
            let entry = Entry {
                at: now,
                actor,
                action,
                subject: None,
                details: serde_json::json!({ "sessions_ended": ended }),
            };
            insert_audit(&mut tx, &entry).await?;
        }
        tx.commit().await?;
        Ok(ended)
    }

    async fn append_audit(&self, entry: &Entry<'_>) -> Result<()> {
        let mut tx = self.0.begin_write().await?;
        insert_audit(&mut tx, entry).await?;
        Ok(tx.commit().await?)
    }

    async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<Logged>> {
        Sql::new(
            "SELECT id, at, actor, action, subject, details, client FROM audit_log \
             WHERE at >= $1 AND at < $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(filter.since.map_or(i64::MIN, to_ms))
        .bind(filter.until.map_or(i64::MAX, to_ms))
        .bind(filter.limit)
        .fetch_all(&mut self.0.read().await?)
        .await
    }
}

/// A key's failed sign-ins (none: the default).
async fn failures(on: &mut impl Exec, key: &str) -> Result<Failures> {
    let row: Option<Failures> =
        Sql::new("SELECT failures, last_at, locked_until FROM sign_in_failures WHERE key = $1")
            .bind(key)
            .fetch_optional(on)
            .await?;
    Ok(row.unwrap_or_default())
}

/// Appends an audit entry in the caller's transaction.
pub(super) async fn insert_audit(tx: &mut impl Exec, entry: &Entry<'_>) -> Result<()> {
    Sql::new(
        "INSERT INTO audit_log (at, operator_id, token_id, actor, action, subject, details, \
         client) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(to_ms(entry.at))
    .bind(entry.actor.operator_id)
    .bind(entry.actor.token_id)
    .bind(entry.actor.name.as_str())
    .bind(entry.action.as_str())
    .bind(entry.subject.as_deref())
    .bind(entry.details.to_string().as_str())
    .bind(entry.actor.client.as_deref())
    .execute(tx)
    .await?;
    Ok(())
}
