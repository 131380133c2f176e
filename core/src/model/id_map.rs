//! A hash map for the tenant's large id-keyed tables (users, channels, interactions,
//! devices). A B-tree over 10,000 `Arc<str>` keys chases a heap pointer at every
//! comparison; hashing a short id once is several times faster.
//!
//! Determinism is kept by construction: the hasher is unseeded (no `RandomState`, so no
//! randomness in the core), and nothing observable depends on hash order — callers
//! iterate [`IdMap::sorted`] wherever order reaches an event or a view, and snapshots
//! serialise sorted by id. FxHash is not flood-resistant; ids come from admins and the
//! routing system, not from anonymous clients, and the host bounds request sizes.

use std::borrow::Borrow;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::Hash;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The same hashes on every runtime and every run.
type Fixed = rustc_hash::FxBuildHasher;

#[derive(Clone)]
pub struct IdMap<K, V>(HashMap<K, V, Fixed>);

impl<K: Hash + Eq + Ord, V> IdMap<K, V> {
    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.0.get(key)
    }

    pub fn get_key_value<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
    {
        self.0.get_key_value(key)
    }

    pub fn get_mut<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.0.get_mut(key)
    }

    pub fn contains_key<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.0.contains_key(key)
    }

    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.0.insert(key, value)
    }

    pub fn remove<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.0.remove(key)
    }

    pub fn entry(&mut self, key: K) -> Entry<'_, K, V> {
        self.0.entry(key)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Entries in id order: the only iteration whose order may be observed.
    pub fn sorted(&self) -> Vec<(&K, &V)> {
        self.sorted_where(|_, _| true)
    }

    /// The entries `keep` keeps, in id order: a view of a few users of many sorts only those.
    pub fn sorted_where(&self, mut keep: impl FnMut(&K, &V) -> bool) -> Vec<(&K, &V)> {
        let mut entries: Vec<(&K, &V)> = self.0.iter().filter(|(k, v)| keep(k, v)).collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        entries
    }
}

impl<K, V> Default for IdMap<K, V> {
    fn default() -> Self {
        IdMap(HashMap::default())
    }
}

impl<K: Hash + Eq, V: PartialEq> PartialEq for IdMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<K: Hash + Eq, V: Eq> Eq for IdMap<K, V> {}

impl<K: fmt::Debug + Ord, V: fmt::Debug> fmt::Debug for IdMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut entries: Vec<_> = self.0.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        f.debug_map().entries(entries).finish()
    }
}

impl<K: Serialize + Ord + Hash + Eq, V: Serialize> Serialize for IdMap<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.sorted())
    }
}

impl<'de, K: Deserialize<'de> + Ord + Hash + Eq, V: Deserialize<'de>> Deserialize<'de> for IdMap<K, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(IdMap(BTreeMap::<K, V>::deserialize(d)?.into_iter().collect()))
    }
}

/// A user's few sign-ins or assignments (typically one to five): a vector sorted by id.
/// Cheaper than a B-tree node to allocate, clone and scan at that size; iteration is by
/// id, like everything observable.
#[derive(Clone, PartialEq, Eq)]
pub struct SmallMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap(Vec::new())
    }
}

impl<K: Ord, V> SmallMap<K, V> {
    /// Where `key` is, or where it would go. A linear scan: at this size, equality checks
    /// (length first) beat the full comparisons of a binary search — measured: one binary
    /// search runs fewer instructions, yet replay took 8 % longer with it (issue 20).
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        match self.0.iter().position(|(k, _)| k.borrow() == key) {
            Some(i) => Ok(i),
            None => Err(self.0.partition_point(|(k, _)| k.borrow() < key)),
        }
    }

    fn position<Q: Eq + ?Sized>(&self, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
    {
        self.0.iter().position(|(k, _)| k.borrow() == key)
    }

    pub fn get<Q: Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.0.iter().find(|(k, _)| k.borrow() == key).map(|(_, v)| v)
    }

    pub fn get_mut<Q: Eq + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.0.iter_mut().find(|(k, _)| (*k).borrow() == key).map(|(_, v)| v)
    }

    pub fn contains_key<Q: Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.position(key).is_some()
    }

    pub fn insert(&mut self, key: K, value: V) {
        match self.find(&key) {
            Ok(i) => {
                if let Some(slot) = self.0.get_mut(i) {
                    slot.1 = value;
                }
            }
            Err(i) => self.0.insert(i, (key, value)),
        }
    }

    /// Applies `update` to the value for `key`, starting from `V::default()` when absent.
    pub fn upsert(&mut self, key: K, update: impl FnOnce(&mut V))
    where
        V: Default,
    {
        match self.find(&key) {
            Ok(i) => {
                if let Some((_, v)) = self.0.get_mut(i) {
                    update(v);
                }
            }
            Err(i) => {
                let mut v = V::default();
                update(&mut v);
                self.0.insert(i, (key, v));
            }
        }
    }

    pub fn remove<Q: Eq + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.position(key).map(|i| self.0.remove(i).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl<K, V> IntoIterator for SmallMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    /// The entries, by key, moved out.
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for SmallMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter().map(|(k, v)| (k, v))).finish()
    }
}

impl<K: Serialize, V: Serialize> Serialize for SmallMap<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>> Deserialize<'de> for SmallMap<K, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(SmallMap(BTreeMap::<K, V>::deserialize(d)?.into_iter().collect()))
    }
}
