//! Variable values and documents: JSON, stored in events and snapshots as compact JSON text.
//!
//! The log format is not self-describing (postcard), so a JSON value is encoded as its text; that keeps numbers
//! exactly as the client sent them and the format independent of serde_json's internal representation.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A JSON value that encodes as JSON text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Json(pub Value);

impl Json {
    pub fn null() -> Json {
        Json(Value::Null)
    }

    pub fn object() -> Json {
        Json(Value::Object(serde_json::Map::new()))
    }

    pub fn as_object(&self) -> Option<&serde_json::Map<String, Value>> {
        self.0.as_object()
    }
}

impl From<Value> for Json {
    fn from(v: Value) -> Json {
        Json(v)
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        serde_json::from_str(&text)
            .map(Json)
            .map_err(serde::de::Error::custom)
    }
}
