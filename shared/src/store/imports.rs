//! The meta rows of CSV imports (issue 16.4): the import itself (status, cursor, counts), its
//! plan in chunks, and per chunk the record of what it wrote.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Store, StoreError};
use crate::domain::import::{RowPlan, WriteRecord, chunk_row_id, import_row_id, writes_row_id};
use crate::tables::ROWS_BY_KIND;

/// What a run has written so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ImportCounts {
    pub partners_created: u64,
    pub partners_updated: u64,
    pub links_created: u64,
    pub links_updated: u64,
}

/// An import's own row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ImportRow {
    pub id: String,
    pub import_id: String,
    pub row_kind: String,
    pub row_order: String,
    /// `running`, `completed`, `reverting` or `reverted`.
    pub status: String,
    pub total_rows: usize,
    pub valid_rows: usize,
    pub chunk_count: usize,
    /// The next chunk to write.
    pub cursor: usize,
    /// Top-level attributes, so a chunk's transaction adds to them.
    #[serde(flatten)]
    pub counts: ImportCounts,
    /// The first rejected rows, and how many there were.
    pub rejected_rows: Vec<Value>,
    pub rejected_count: usize,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
    pub version: u64,
}

/// A chunk of the plan.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ChunkRow {
    pub id: String,
    /// The rows, as JSON (one attribute: a plan row's shape is the domain's, not the table's).
    pub rows: String,
}

/// What a chunk wrote.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WritesRow {
    pub id: String,
    pub writes: String,
}

impl Store {
    /// Saves a new import and its plan chunks (the chunks first: an import row always has them).
    pub async fn create_import(&self, import: &ImportRow, chunks: &[Vec<RowPlan>]) -> Result<(), StoreError> {
        let rows = chunks
            .iter()
            .enumerate()
            .map(|(k, rows)| {
                Ok(ChunkRow {
                    id: chunk_row_id(&import.import_id, k),
                    rows: serde_json::to_string(rows).map_err(|e| StoreError::Sdk(Box::new(e)))?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.put_all(&self.tables().meta, &rows).await?;
        self.put_new(&self.tables().meta, import).await
    }

    /// An import (strongly consistent).
    pub async fn get_import(&self, import_id: &str) -> Result<Option<ImportRow>, StoreError> {
        self.get(&self.tables().meta, &import_row_id(import_id)).await
    }

    /// Every import, oldest first (`rows-by-kind`, EC).
    pub async fn imports(&self) -> Result<Vec<ImportRow>, StoreError> {
        self.query_index(&self.tables().meta, ROWS_BY_KIND, crate::domain::import::IMPORT_KIND)
            .await
    }

    /// Plan chunk `k` of an import.
    pub async fn import_chunk(&self, import_id: &str, k: usize) -> Result<Vec<RowPlan>, StoreError> {
        let row: Option<ChunkRow> = self.get(&self.tables().meta, &chunk_row_id(import_id, k)).await?;
        let text = row.map(|r| r.rows).unwrap_or_else(|| "[]".into());
        serde_json::from_str(&text).map_err(|e| StoreError::Sdk(Box::new(e)))
    }

    /// What chunks `0..count` wrote, in order.
    pub async fn import_writes(&self, import_id: &str, count: usize) -> Result<Vec<WriteRecord>, StoreError> {
        let ids: Vec<String> = (0..count).map(|k| writes_row_id(import_id, k)).collect();
        let mut rows: Vec<WritesRow> = self.batch_get(&self.tables().meta, &ids).await?;
        let order = |id: &str| id.rsplit('#').next().and_then(|k| k.parse::<usize>().ok()).unwrap_or(0);
        rows.sort_by_key(|r| order(&r.id));
        let mut records = Vec::new();
        for row in rows {
            let writes: Vec<WriteRecord> =
                serde_json::from_str(&row.writes).map_err(|e| StoreError::Sdk(Box::new(e)))?;
            records.extend(writes);
        }
        Ok(records)
    }
}
