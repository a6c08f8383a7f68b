//! A per-process read cache for the answers that read whole tables (the partner directory, the
//! dashboard), validated on every request against the data version: every successful write
//! through the API bumps that version (see `http::serve`), so a cached answer is served only
//! while nothing has changed, and a write is always seen by the next read. A TTL bounds the
//! staleness a write made outside the API (a console edit) could cause.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest an entry is served without a fresh read, even if the version did not move.
pub const TTL: Duration = Duration::from_secs(60);
/// Most entries kept (a few keys per query shape); the oldest go first.
const CAPACITY: usize = 1024;
/// Most bytes kept (as serialized JSON, a fair measure of what an entry holds): a quarter of
/// a 128 MB function, so 150 distinct searches can never grow the process without bound.
pub const BYTE_BUDGET: usize = 32 * 1024 * 1024;

struct Entry {
    version: u64,
    stored_at: Instant,
    bytes: usize,
    value: Arc<dyn Any + Send + Sync>,
}

/// Entries keyed by name, each tagged with the data version it was read at.
pub struct ReadCache {
    entries: Mutex<HashMap<String, Entry>>,
    budget: usize,
}

impl Default for ReadCache {
    fn default() -> Self {
        Self::with_budget(BYTE_BUDGET)
    }
}

/// How many bytes `value` takes as JSON, counted without building the text.
pub fn json_bytes(value: &impl serde::Serialize) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache").finish_non_exhaustive()
    }
}

impl ReadCache {
    /// A cache that keeps at most `budget` bytes.
    pub fn with_budget(budget: usize) -> Self {
        Self {
            entries: Mutex::default(),
            budget,
        }
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.values().map(|e| e.bytes).sum()
    }

    /// The value stored under `key` at `version`, if still fresh.
    pub fn get<T: Any + Send + Sync>(&self, key: &str, version: u64) -> Option<Arc<T>> {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = entries.get(key)?;
        if entry.version != version || entry.stored_at.elapsed() > TTL {
            return None;
        }
        entry.value.clone().downcast::<T>().ok()
    }

    /// Stores `value` (`bytes` large) under `key`, read at `version`, evicting the oldest
    /// entries to stay within the entry and byte budgets; a value over the whole budget is not
    /// kept at all.
    pub fn put<T: Any + Send + Sync>(&self, key: &str, version: u64, value: Arc<T>, bytes: usize) {
        if bytes > self.budget {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.remove(key);
        let mut held: usize = entries.values().map(|e| e.bytes).sum();
        while entries.len() >= CAPACITY || held + bytes > self.budget {
            let oldest = entries.iter().min_by_key(|(_, e)| e.stored_at).map(|(k, _)| k.clone());
            let Some(oldest) = oldest else { break };
            if let Some(gone) = entries.remove(&oldest) {
                held -= gone.bytes;
            }
        }
        entries.insert(
            key.to_string(),
            Entry {
                version,
                stored_at: Instant::now(),
                bytes,
                value,
            },
        );
    }
}

impl crate::AppContext {
    /// The value of `key`, from the cache while the data version has not moved, else built by
    /// `build` and cached. The version is read first, so a write landing while `build` reads
    /// leaves the new entry stale-tagged rather than serving old data as new.
    pub async fn cached<T, F, Fut>(&self, key: &str, build: F) -> crate::ApiResult<Arc<T>>
    where
        T: Any + Send + Sync + serde::Serialize,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = crate::ApiResult<T>>,
    {
        let version = self.store.data_version().await?;
        self.cached_at(version, key, build).await
    }

    /// [`AppContext::cached`] with the data version already read (nested cached reads share
    /// one version read).
    pub async fn cached_at<T, F, Fut>(&self, version: u64, key: &str, build: F) -> crate::ApiResult<Arc<T>>
    where
        T: Any + Send + Sync + serde::Serialize,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = crate::ApiResult<T>>,
    {
        if let Some(value) = self.cache.get::<T>(key, version) {
            return Ok(value);
        }
        let value = Arc::new(build().await?);
        self.cache.put(key, version, value.clone(), json_bytes(&*value));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_valid_only_at_their_version() {
        let cache = ReadCache::default();
        cache.put("directory", 7, Arc::new(vec![1, 2, 3]), 7);
        assert_eq!(cache.get::<Vec<i32>>("directory", 7).as_deref(), Some(&vec![1, 2, 3]));
        assert!(
            cache.get::<Vec<i32>>("directory", 8).is_none(),
            "a write moved the version"
        );
        assert!(cache.get::<String>("directory", 7).is_none(), "wrong type");
        assert!(cache.get::<Vec<i32>>("other", 7).is_none());
    }

    #[test]
    fn the_byte_budget_is_never_exceeded() {
        let cache = ReadCache::with_budget(1_000);
        for i in 0..150 {
            let answer = "x".repeat(300);
            let bytes = json_bytes(&answer);
            cache.put(&format!("search {i}"), 1, Arc::new(answer), bytes);
            assert!(cache.bytes() <= 1_000, "{} bytes after {i}", cache.bytes());
        }
        assert!(cache.get::<String>("search 149", 1).is_some(), "the newest stays");
        assert!(cache.get::<String>("search 0", 1).is_none(), "the oldest went");
        cache.put("huge", 1, Arc::new(String::new()), 5_000);
        assert!(
            cache.get::<String>("huge", 1).is_none(),
            "over the whole budget: not kept"
        );
    }

    #[test]
    fn capacity_evicts_the_oldest() {
        let cache = ReadCache::default();
        for i in 0..=CAPACITY {
            cache.put(&format!("k{i}"), 1, Arc::new(i), 1);
        }
        assert!(cache.get::<usize>("k0", 1).is_none());
        assert_eq!(
            cache.get::<usize>(&format!("k{CAPACITY}"), 1).as_deref(),
            Some(&CAPACITY)
        );
    }
}
