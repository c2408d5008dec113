//! Buffered messages and open message subscriptions.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::event::{MessageRecord, SubscriptionRecord};
use crate::key::Key;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Messages {
    pub by_key: FxHashMap<Key, MessageRecord>,
    pub deadlines: BTreeSet<(i64, Key)>,
    /// Buffered messages by (name, correlation key), oldest first.
    pub by_name_key: FxHashMap<(String, String), BTreeSet<Key>>,
    /// (name, correlation key, message id) of buffered messages with an id, for ALREADY_EXISTS.
    pub ids: FxHashMap<(String, String, String), Key>,
    /// BPMN process ids a buffered message already correlated to (at most once per process id).
    pub correlated: FxHashMap<Key, Vec<String>>,
    /// Active instances created by a message start event: (bpmn process id, correlation key) -> instance.
    pub started_instances: FxHashMap<(String, String), Key>,
}

impl Messages {
    pub(crate) fn remove(&mut self, key: Key) {
        if let Some(m) = self.by_key.remove(&key) {
            self.deadlines.remove(&(m.deadline, key));
            let nk = (m.name.clone(), m.correlation_key.clone());
            if let Some(set) = self.by_name_key.get_mut(&nk) {
                set.remove(&key);
                if set.is_empty() {
                    self.by_name_key.remove(&nk);
                }
            }
            if !m.message_id.is_empty() {
                self.ids.remove(&(m.name, m.correlation_key, m.message_id));
            }
            self.correlated.remove(&key);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Subscriptions {
    pub by_key: FxHashMap<Key, SubscriptionRecord>,
    /// Open subscriptions by (message name, correlation key), oldest first.
    pub by_name_key: BTreeMap<(String, String), BTreeSet<Key>>,
    /// Subscriptions owned by an element instance.
    pub by_element: FxHashMap<Key, Vec<Key>>,
}

impl Subscriptions {
    pub(crate) fn remove(&mut self, key: Key) {
        if let Some(s) = self.by_key.remove(&key) {
            let nk = (s.message_name.clone(), s.correlation_key.clone());
            if let Some(set) = self.by_name_key.get_mut(&nk) {
                set.remove(&key);
                if set.is_empty() {
                    self.by_name_key.remove(&nk);
                }
            }
            if let Some(list) = self.by_element.get_mut(&s.element_instance_key) {
                list.retain(|k| *k != key);
                if list.is_empty() {
                    self.by_element.remove(&s.element_instance_key);
                }
            }
        }
    }
}
