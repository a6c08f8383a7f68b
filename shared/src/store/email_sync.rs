//! The meta table's email-sync rows: ingest tokens (stored by their hash) with each admin's
//! current generation, and one status row per mailbox whose counters only ever move by `ADD`,
//! so concurrent ingests never lose a count and never read before they write.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Store, StoreError, Update, put_new_item};
use crate::domain::email_sync::SyncStats;
use crate::tables::{ID, SYNC_MAILBOX_PREFIX, SYNC_MAILBOXES_ID, SYNC_TOKEN_OWNER_PREFIX, SYNC_TOKEN_PREFIX};

/// An issued ingest token, by the SHA-256 of its text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SyncToken {
    pub id: String,
    pub owner: String,
    pub generation: u64,
    pub issued_at: String,
}

/// An admin's current token generation (rotating moves it on).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SyncTokenOwner {
    pub id: String,
    pub owner: String,
    pub generation: u64,
    /// The hash of the current token (its row is deleted when the token rotates).
    pub token_hash: String,
}

/// One mailbox's sync status: counters since it first synced, and what its last run saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MailboxStatus {
    pub id: String,
    pub mailbox: String,
    /// `apps_script`, `signed` or `imap`.
    pub kind: String,
    pub last_ingest_at: Option<String>,
    pub last_success_at: Option<String>,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub last_unmatched_emails: Vec<String>,
    pub last_errors: Vec<Value>,
    /// Counters since the mailbox first synced.
    #[serde(flatten)]
    pub stats: SyncStats,
}

/// What one run of a mailbox saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MailboxRun {
    pub mailbox: String,
    pub kind: String,
    pub at_iso: String,
    pub status_code: u16,
    pub stats: SyncStats,
    pub unmatched_emails: Vec<String>,
    pub errors: Vec<Value>,
    /// Why the run failed, if it did (an IMAP login refused, a mailbox gone).
    pub failure: Option<String>,
}

/// How far a mailbox folder was read: the folder's UIDVALIDITY and the last UID imported. A
/// different UIDVALIDITY means the server renumbered the folder: read it again from the start
/// (the dedupe keeps what was imported already).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ImapCursor {
    pub id: String,
    pub uid_validity: u32,
    pub last_uid: u32,
}

fn cursor_row_id(mailbox: &str, folder: &str) -> String {
    format!("email_sync_cursor#{mailbox}#{folder}")
}

/// A mailbox is an owner's, per way in: the Apps Script and an IMAP pull of the same exec are two.
fn mailbox_key(kind: &str, mailbox: &str) -> String {
    format!("{kind}#{mailbox}")
}

fn mailbox_row_id(key: &str) -> String {
    format!("{SYNC_MAILBOX_PREFIX}{key}")
}

impl Store {
    /// The token row for `hash`, if it is a current token.
    pub async fn sync_token(&self, hash: &str) -> Result<Option<SyncToken>, StoreError> {
        self.get(&self.tables().meta, &format!("{SYNC_TOKEN_PREFIX}{hash}"))
            .await
    }

    /// The admin's current token generation row.
    pub async fn sync_token_owner(&self, owner: &str) -> Result<Option<SyncTokenOwner>, StoreError> {
        self.get(&self.tables().meta, &format!("{SYNC_TOKEN_OWNER_PREFIX}{owner}"))
            .await
    }

    /// Makes generation `generation` (hash `hash`) the admin's token: the first issue when
    /// `previous` is `None`, else a rotation that revokes the previous token in the same
    /// transaction. Fails with a condition failure when someone else moved the generation first.
    pub async fn set_sync_token(
        &self,
        owner: &str,
        previous: Option<&SyncTokenOwner>,
        generation: u64,
        hash: &str,
        at_iso: &str,
    ) -> Result<(), StoreError> {
        let table = &self.tables().meta;
        let token = SyncToken {
            id: format!("{SYNC_TOKEN_PREFIX}{hash}"),
            owner: owner.to_string(),
            generation,
            issued_at: at_iso.to_string(),
        };
        let owner_row = SyncTokenOwner {
            id: format!("{SYNC_TOKEN_OWNER_PREFIX}{owner}"),
            owner: owner.to_string(),
            generation,
            token_hash: hash.to_string(),
        };
        let mut items = vec![put_new_item(table, &token)?];
        match previous {
            None => items.push(put_new_item(table, &owner_row)?),
            Some(previous) => {
                let put = aws_sdk_dynamodb::types::Put::builder()
                    .table_name(table)
                    .set_item(Some(serde_dynamo::to_item(&owner_row)?))
                    .condition_expression("#g = :g")
                    .expression_attribute_names("#g", "generation")
                    .expression_attribute_values(":g", AttributeValue::N(previous.generation.to_string()))
                    .build()
                    .map_err(|e| StoreError::Sdk(Box::new(e)))?;
                items.push(TransactWriteItem::builder().put(put).build());
                let delete = Delete::builder()
                    .table_name(table)
                    .key(
                        ID,
                        AttributeValue::S(format!("{SYNC_TOKEN_PREFIX}{}", previous.token_hash)),
                    )
                    .build()
                    .map_err(|e| StoreError::Sdk(Box::new(e)))?;
                items.push(TransactWriteItem::builder().delete(delete).build());
            }
        }
        self.transact(items).await
    }

    /// Whether `id` is seen for the first time (a conditional put of a row that expires at
    /// `expires_at`, epoch seconds): a replayed request finds its row.
    pub async fn first_sight(&self, id: &str, expires_at: i64) -> Result<bool, StoreError> {
        let row = serde_json::json!({"id": id, crate::tables::TTL_ATTRIBUTE: expires_at});
        match self.put_new(&self.tables().meta, &row).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Records one run of a mailbox: counters added, the run's snapshot set, the mailbox listed.
    /// No read first, so concurrent runs never lose a count.
    pub async fn record_mailbox_run(&self, run: &MailboxRun) -> Result<(), StoreError> {
        let table = &self.tables().meta;
        let mut update = Update::maintenance()
            .allow_missing()
            .set("mailbox", &run.mailbox)?
            .set("kind", &run.kind)?
            .set("lastIngestAt", &run.at_iso)?
            .set("lastStatusCode", run.status_code)?
            .set("lastUnmatchedEmails", &run.unmatched_emails)?
            .set("lastErrors", &run.errors)?;
        update = match &run.failure {
            Some(why) => update.set("lastError", why)?,
            None => update.set("lastSuccessAt", &run.at_iso)?.remove_path(&["lastError"]),
        };
        for (name, value) in SyncStats::NAMES.iter().zip(run.stats.values()) {
            update = update.add(name, value as i64);
        }
        let key = mailbox_key(&run.kind, &run.mailbox);
        let mailbox = self.update::<Value>(table, &mailbox_row_id(&key), &update).await;
        let listed = Update::maintenance()
            .allow_missing()
            .add_to_set("mailboxes", std::slice::from_ref(&key));
        let listed = self.update::<Value>(table, SYNC_MAILBOXES_ID, &listed).await;
        mailbox.and(listed).map(|_| ())
    }

    /// The cursor of a mailbox folder (strongly consistent).
    pub async fn imap_cursor(&self, mailbox: &str, folder: &str) -> Result<Option<ImapCursor>, StoreError> {
        self.get(&self.tables().meta, &cursor_row_id(mailbox, folder)).await
    }

    /// Moves a folder's cursor (one puller per mailbox at a time: the schedule's runs do not
    /// overlap, see the template's `ReservedConcurrentExecutions`).
    pub async fn save_imap_cursor(
        &self,
        mailbox: &str,
        folder: &str,
        uid_validity: u32,
        last_uid: u32,
    ) -> Result<(), StoreError> {
        let cursor = ImapCursor {
            id: cursor_row_id(mailbox, folder),
            uid_validity,
            last_uid,
        };
        self.put_all(&self.tables().meta, std::slice::from_ref(&cursor)).await
    }

    /// Every mailbox's status (strongly consistent).
    pub async fn mailbox_statuses(&self) -> Result<Vec<MailboxStatus>, StoreError> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Listed {
            mailboxes: Vec<String>,
        }
        let listed: Option<Listed> = self.get(&self.tables().meta, SYNC_MAILBOXES_ID).await?;
        let ids: Vec<String> = listed
            .unwrap_or_default()
            .mailboxes
            .iter()
            .map(|m| mailbox_row_id(m))
            .collect();
        let rows: Vec<MailboxStatus> = self.batch_get(&self.tables().meta, &ids).await?;
        let mut by_id: HashMap<String, MailboxStatus> = rows.into_iter().map(|r| (r.id.clone(), r)).collect();
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }
}
