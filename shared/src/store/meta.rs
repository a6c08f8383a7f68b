//! The meta table's rows: mass-email templates (with the active-template counter that keeps the
//! cap in the same transaction), suppressed addresses, send idempotency records, campaigns, and
//! the forecast settings.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update as TransactUpdate};
use serde::{Deserialize, Serialize};

use super::{IndexQuery, Store, StoreError, Update, put_new_item, put_versioned_item};
use crate::domain::forecast::Probabilities;
use crate::domain::mass_email::{
    Campaign, CampaignRecipient, EmailTemplate, MAX_TEMPLATES, SENDING, TEMPLATE_ENTITY, template_state,
};
use crate::domain::segment::{SEGMENT_KIND, Segment, segment_row_id};
use crate::tables::{
    CAMPAIGN_PREFIX, FORECAST_ID, ID, IDEMPOTENCY_PREFIX, ROWS_BY_KIND, SUPPRESSED_PREFIX, TEMPLATE_COUNTS_ID,
    TEMPLATES_BY_STATE,
};

/// The stage's forecast settings row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ForecastSettings {
    #[serde(flatten)]
    pub probabilities: Probabilities,
    pub updated_at: i64,
    pub updated_by: String,
    pub version: u64,
}

/// Why a template write was refused.
#[derive(Debug, thiserror::Error)]
pub enum TemplateWriteError {
    /// The write would make more than [`MAX_TEMPLATES`] templates active.
    #[error("active template cap reached")]
    CapReached,
    /// The template changed (or vanished) since it was read.
    #[error("template changed since read")]
    Stale,
    #[error(transparent)]
    Store(StoreError),
}

/// A suppressed address: it unsubscribed, bounced for good, or complained.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Suppression {
    pub id: String,
    pub email: String,
    /// `unsubscribed`, `bounced` or `complained`.
    pub reason: String,
    pub at: String,
}

/// The stored outcome of a send made with an `Idempotency-Key`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IdempotencyRecord {
    pub id: String,
    /// Hash of the request body the key was first used with.
    pub request_hash: String,
    /// `in_progress` until the first request answers, then `done`.
    pub state: String,
    pub status: u16,
    /// The first answer's JSON text.
    pub response: String,
    /// Epoch seconds; DynamoDB's TTL (`tables::TTL_ATTRIBUTE`) deletes the record after it.
    pub expires_at: i64,
}

/// What to do with a request carrying an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// First use: go ahead, then record the answer.
    Started,
    /// Answered before: replay it.
    Done { status: u16, response: String },
    /// The first request is still running.
    InProgress,
    /// The key was used with a different body.
    Mismatch,
}

/// Days an idempotency record is kept.
const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;

fn counter_update(table: &str, delta: i64) -> Result<TransactWriteItem, StoreError> {
    // Only an increase can pass the cap; a decrease may never be refused.
    let (condition, values) = if delta > 0 {
        (
            Some("attribute_not_exists(#active) OR #active < :max".to_string()),
            HashMap::from([
                (":d".to_string(), AttributeValue::N(delta.to_string())),
                (":max".to_string(), AttributeValue::N(MAX_TEMPLATES.to_string())),
            ]),
        )
    } else {
        (
            None,
            HashMap::from([(":d".to_string(), AttributeValue::N(delta.to_string()))]),
        )
    };
    let update = TransactUpdate::builder()
        .table_name(table)
        .key(ID, AttributeValue::S(TEMPLATE_COUNTS_ID.to_string()))
        .update_expression("ADD #active :d")
        .set_condition_expression(condition)
        .expression_attribute_names("#active", "active")
        .set_expression_attribute_values(Some(values))
        .build()
        .map_err(|e| StoreError::Sdk(Box::new(e)))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

fn template_error(err: StoreError) -> TemplateWriteError {
    if err.condition_failed_at(1) {
        TemplateWriteError::CapReached
    } else if err.should_retry() {
        TemplateWriteError::Stale
    } else {
        TemplateWriteError::Store(err)
    }
}

/// The meta row id of a campaign, or of one of its recipients.
pub fn campaign_row_id(campaign_id: &str, partner_id: Option<&str>) -> String {
    match partner_id {
        Some(p) => format!("{CAMPAIGN_PREFIX}{campaign_id}#{p}"),
        None => format!("{CAMPAIGN_PREFIX}{campaign_id}"),
    }
}

impl Store {
    /// Templates newest edit first (`updatedAt || createdAt`, then id): the active ones, and the
    /// archived ones too when asked. Index reads: eventually consistent, a second behind a write.
    pub async fn list_templates(&self, include_archived: bool) -> Result<Vec<EmailTemplate>, StoreError> {
        let table = &self.tables().meta;
        let mut states = vec![template_state(false)];
        if include_archived {
            states.push(template_state(true));
        }
        let reads = states.iter().map(|state| async move {
            let mut query = IndexQuery::new(table, TEMPLATES_BY_STATE, state);
            query.newest_first = true;
            self.query::<EmailTemplate>(query).await.map(|(items, _)| items)
        });
        let mut templates: Vec<EmailTemplate> = futures::future::try_join_all(reads)
            .await?
            .into_iter()
            .flatten()
            .collect();
        templates.sort_by(|a, b| b.touched_at().cmp(&a.touched_at()).then_with(|| a.id.cmp(&b.id)));
        Ok(templates)
    }

    /// A template by id (`None` for a missing id or a meta row of another kind).
    pub async fn get_template(&self, id: &str) -> Result<Option<EmailTemplate>, StoreError> {
        let found: Option<EmailTemplate> = self.get(&self.tables().meta, id).await?;
        Ok(found.filter(|t| t.entity_type == TEMPLATE_ENTITY))
    }

    /// Creates `template`, counting it against the active cap in the same transaction.
    pub async fn create_template(&self, template: &EmailTemplate) -> Result<(), TemplateWriteError> {
        let table = &self.tables().meta;
        let items = vec![
            put_new_item(table, template).map_err(TemplateWriteError::Store)?,
            counter_update(table, 1).map_err(TemplateWriteError::Store)?,
        ];
        self.transact(items).await.map_err(template_error)
    }

    /// Replaces `old` by `new` if unchanged since read; archiving or restoring moves the active
    /// count in the same transaction (a restore past the cap is refused).
    pub async fn replace_template(&self, old: &EmailTemplate, new: &EmailTemplate) -> Result<(), TemplateWriteError> {
        let table = &self.tables().meta;
        let mut items = vec![put_versioned_item(table, new, old.version).map_err(TemplateWriteError::Store)?];
        let delta = match (old.archived, new.archived) {
            (true, false) => 1,
            (false, true) => -1,
            _ => 0,
        };
        if delta != 0 {
            items.push(counter_update(table, delta).map_err(TemplateWriteError::Store)?);
        }
        self.transact(items).await.map_err(template_error)
    }

    /// Records that an active template was used (`lastUsedAt`): a maintenance write, so the
    /// list order (by `updatedAt`) does not move (§14.15). An archived or missing template is
    /// left alone.
    pub async fn mark_template_used(&self, id: &str, at_iso: &str) -> Result<bool, StoreError> {
        let update = Update::maintenance()
            .set("lastUsedAt", at_iso)?
            .expect_equal("archived", false)?;
        match self.update::<EmailTemplate>(&self.tables().meta, id, &update).await {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Which of `emails` (lower-cased) must not be emailed. Strongly consistent: an address that
    /// unsubscribed a second ago is not emailed again.
    pub async fn suppressed(&self, emails: &[String]) -> Result<BTreeSet<String>, StoreError> {
        let ids: Vec<String> = emails.iter().map(|e| format!("{SUPPRESSED_PREFIX}{e}")).collect();
        let found: Vec<Suppression> = self.batch_get(&self.tables().meta, &ids).await?;
        Ok(found.into_iter().map(|s| s.email).collect())
    }

    /// Puts `email` on the suppression list (the first reason is kept).
    pub async fn suppress(&self, email: &str, reason: &str, at_iso: &str) -> Result<(), StoreError> {
        let row = Suppression {
            id: format!("{SUPPRESSED_PREFIX}{email}"),
            email: email.to_string(),
            reason: reason.to_string(),
            at: at_iso.to_string(),
        };
        match self.put_new(&self.tables().meta, &row).await {
            Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Claims `key` for a request whose body hashes to `request_hash`: the first claim wins
    /// (a conditional put), so two concurrent requests with one key run once.
    pub async fn claim_idempotency_key(
        &self,
        key: &str,
        request_hash: &str,
        now_secs: i64,
    ) -> Result<IdempotencyClaim, StoreError> {
        let id = format!("{IDEMPOTENCY_PREFIX}{key}");
        let record = IdempotencyRecord {
            id: id.clone(),
            request_hash: request_hash.to_string(),
            state: "in_progress".into(),
            status: 0,
            response: String::new(),
            expires_at: now_secs + IDEMPOTENCY_TTL_SECS,
        };
        match self.put_new(&self.tables().meta, &record).await {
            Ok(()) => return Ok(IdempotencyClaim::Started),
            Err(StoreError::ConditionFailed) => {}
            Err(e) => return Err(e),
        }
        let stored: Option<IdempotencyRecord> = self.get(&self.tables().meta, &id).await?;
        Ok(match stored {
            // Expired between the put and the read: a retry will claim it.
            None => IdempotencyClaim::InProgress,
            Some(r) if r.request_hash != request_hash => IdempotencyClaim::Mismatch,
            Some(r) if r.state == "done" => IdempotencyClaim::Done {
                status: r.status,
                response: r.response,
            },
            Some(_) => IdempotencyClaim::InProgress,
        })
    }

    /// Stores the answer of the request that claimed `key`.
    pub async fn finish_idempotency_key(&self, key: &str, status: u16, response: &str) -> Result<(), StoreError> {
        let update = Update::maintenance()
            .set("state", "done")?
            .set("status", status)?
            .set("response", response)?;
        self.update::<IdempotencyRecord>(&self.tables().meta, &format!("{IDEMPOTENCY_PREFIX}{key}"), &update)
            .await
            .map(|_| ())
    }

    /// Releases `key` after a request failed before sending anything, so a retry may run.
    pub async fn release_idempotency_key(&self, key: &str) -> Result<(), StoreError> {
        self.client()
            .delete_item()
            .table_name(&self.tables().meta)
            .key(ID, AttributeValue::S(format!("{IDEMPOTENCY_PREFIX}{key}")))
            .send()
            .await
            .map_err(super::classify)?;
        Ok(())
    }

    /// Writes a new campaign and every recipient's first state.
    pub async fn put_campaign(&self, campaign: &Campaign, recipients: &[CampaignRecipient]) -> Result<(), StoreError> {
        self.put_new(&self.tables().meta, campaign).await?;
        self.put_all(&self.tables().meta, recipients).await
    }

    /// A campaign and its recipients in request order (strongly consistent).
    pub async fn get_campaign(
        &self,
        campaign_id: &str,
    ) -> Result<Option<(Campaign, Vec<CampaignRecipient>)>, StoreError> {
        let Some(campaign) = self
            .get::<Campaign>(&self.tables().meta, &campaign_row_id(campaign_id, None))
            .await?
        else {
            return Ok(None);
        };
        let ids: Vec<String> = campaign
            .partner_ids
            .iter()
            .map(|p| campaign_row_id(campaign_id, Some(p)))
            .collect();
        let mut by_id: HashMap<String, CampaignRecipient> = self
            .batch_get::<CampaignRecipient>(&self.tables().meta, &ids)
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let recipients = ids.iter().filter_map(|id| by_id.remove(id)).collect();
        Ok(Some((campaign, recipients)))
    }

    /// Moves a recipient from `queued` to `sending` for this invocation; `false` when another
    /// invocation has it already (so an email is never sent twice).
    pub async fn claim_recipient(&self, recipient: &CampaignRecipient, now_ms: i64) -> Result<bool, StoreError> {
        let update = Update::maintenance()
            .set("state", SENDING)?
            .set("updatedAt", now_ms)?
            .expect_equal("state", "queued")?;
        match self
            .update::<CampaignRecipient>(&self.tables().meta, &recipient.id, &update)
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Records a recipient's final state.
    pub async fn settle_recipient(
        &self,
        recipient: &CampaignRecipient,
        state: &str,
        message: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let update = Update::maintenance()
            .set("state", state)?
            .set("message", message)?
            .set("updatedAt", now_ms)?;
        self.update::<CampaignRecipient>(&self.tables().meta, &recipient.id, &update)
            .await
            .map(|_| ())
    }
}

impl Store {
    /// The stage's forecast settings (defaults until an admin saves some; strongly consistent).
    pub async fn forecast_settings(&self) -> Result<ForecastSettings, StoreError> {
        Ok(self.get(&self.tables().meta, FORECAST_ID).await?.unwrap_or_default())
    }

    /// Saves `probabilities` over the settings read at `read_version` (0 = none saved yet):
    /// conditional, so two admins' edits never silently overwrite each other.
    pub async fn save_forecast_settings(
        &self,
        probabilities: &Probabilities,
        read_version: u64,
        actor: &str,
        now_ms: i64,
    ) -> Result<ForecastSettings, StoreError> {
        let update = Update::new(actor, now_ms)
            .allow_missing()
            .expect_version(read_version)
            .set("overrides", &probabilities.overrides)?;
        self.update(&self.tables().meta, FORECAST_ID, &update).await
    }

    /// Every segment, by name (`rows-by-kind`, EC).
    pub async fn segments(&self) -> Result<Vec<Segment>, StoreError> {
        self.query_index(&self.tables().meta, ROWS_BY_KIND, SEGMENT_KIND).await
    }

    /// One segment (strongly consistent).
    pub async fn get_segment(&self, segment_id: &str) -> Result<Option<Segment>, StoreError> {
        self.get(&self.tables().meta, &segment_row_id(segment_id)).await
    }

    /// Writes a new segment.
    pub async fn create_segment(&self, segment: &Segment) -> Result<(), StoreError> {
        self.put_new(&self.tables().meta, segment).await
    }

    /// Replaces a segment read at `read_version` (the whole row: a segment is small).
    pub async fn replace_segment(&self, segment: &Segment, read_version: u64) -> Result<(), StoreError> {
        self.transact(vec![put_versioned_item(&self.tables().meta, segment, read_version)?])
            .await
    }

    /// Deletes a segment read at `read_version`.
    pub async fn delete_segment(&self, segment: &Segment) -> Result<(), StoreError> {
        self.transact(vec![super::delete_versioned_item(
            &self.tables().meta,
            &segment.id,
            segment.version,
        )?])
        .await
    }
}
