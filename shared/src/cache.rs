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

struct Entry {
    version: u64,
    stored_at: Instant,
    value: Arc<dyn Any + Send + Sync>,
}

/// Entries keyed by name, each tagged with the data version it was read at.
#[derive(Default)]
pub struct ReadCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache").finish_non_exhaustive()
    }
}

impl ReadCache {
    /// The value stored under `key` at `version`, if still fresh.
    pub fn get<T: Any + Send + Sync>(&self, key: &str, version: u64) -> Option<Arc<T>> {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = entries.get(key)?;
        if entry.version != version || entry.stored_at.elapsed() > TTL {
            return None;
        }
        entry.value.clone().downcast::<T>().ok()
    }

    /// Stores `value` under `key`, read at `version`.
    pub fn put<T: Any + Send + Sync>(&self, key: &str, version: u64, value: Arc<T>) {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= CAPACITY && !entries.contains_key(key) {
            let oldest = entries.iter().min_by_key(|(_, e)| e.stored_at).map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        entries.insert(
            key.to_string(),
            Entry {
                version,
                stored_at: Instant::now(),
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
        T: Any + Send + Sync,
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
        T: Any + Send + Sync,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = crate::ApiResult<T>>,
    {
        if let Some(value) = self.cache.get::<T>(key, version) {
            return Ok(value);
        }
        let value = Arc::new(build().await?);
        self.cache.put(key, version, value.clone());
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_valid_only_at_their_version() {
        let cache = ReadCache::default();
        cache.put("directory", 7, Arc::new(vec![1, 2, 3]));
        assert_eq!(cache.get::<Vec<i32>>("directory", 7).as_deref(), Some(&vec![1, 2, 3]));
        assert!(
            cache.get::<Vec<i32>>("directory", 8).is_none(),
            "a write moved the version"
        );
        assert!(cache.get::<String>("directory", 7).is_none(), "wrong type");
        assert!(cache.get::<Vec<i32>>("other", 7).is_none());
    }

    #[test]
    fn capacity_evicts_the_oldest() {
        let cache = ReadCache::default();
        for i in 0..=CAPACITY {
            cache.put(&format!("k{i}"), 1, Arc::new(i));
        }
        assert!(cache.get::<usize>("k0", 1).is_none());
        assert_eq!(
            cache.get::<usize>(&format!("k{CAPACITY}"), 1).as_deref(),
            Some(&CAPACITY)
        );
    }
}
