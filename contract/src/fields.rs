//! The snapshot's flat records, field by field: `load` and `totals` (whose
//! fields a window's `rates` repeat). Each list is the one place a field of
//! these records is named in Rust: the guest's native records, every copy
//! between them and the WIT records, a window's rates and the JSON are all
//! generated from it.
//!
//! Invariant: the order and names are the WIT record's (`wit/plugin.wit`,
//! kebab-case there); the JSON keys follow the same order.
//!
//! Each macro takes a callback `name!(args…)` and invokes
//! `name! { (args…) /// doc\n field: Type, … }`.

/// The fields of `load` (the figures load-aware routers read).
#[macro_export]
macro_rules! load_fields {
    ($then:ident ! ($($args:tt)*)) => {
        $then! { ($($args)*)
            /// Requests in the running batch.
            requests_running: Option<f64>,
            /// Requests waiting to be scheduled.
            requests_waiting: Option<f64>,
            /// KV-cache usage as a fraction 0 to 1.
            kv_cache_usage: Option<f64>,
            /// KV-cache capacity in tokens, summed over data-parallel ranks.
            kv_cache_capacity_tokens: Option<f64>,
            /// LoRA adapters with running requests.
            running_lora_adapters: Option<Vec<String>>,
            /// LoRA adapters with waiting requests.
            waiting_lora_adapters: Option<Vec<String>>,
            /// The most LoRA adapters that can be active at once.
            max_lora: Option<f64>,
            /// How many data-parallel ranks (engines) were aggregated.
            data_parallel_ranks: Option<u32>,
        }
    };
}

/// The fields of `totals` (counters since the server started), and of a
/// window's `rates` (the same, per second).
#[macro_export]
macro_rules! totals_fields {
    ($then:ident ! ($($args:tt)*)) => {
        $then! { ($($args)*)
            /// Requests that finished normally.
            requests_succeeded: Option<f64>,
            /// Admitted requests that finished with an error.
            requests_failed: Option<f64>,
            /// Requests refused before admission.
            requests_rejected: Option<f64>,
            /// Every prompt token, computed or served from the prefix cache.
            prompt_tokens: Option<f64>,
            /// The prompt tokens served from the prefix cache.
            prompt_tokens_cached: Option<f64>,
            /// Tokens generated.
            generation_tokens: Option<f64>,
            /// Preemptions.
            preemptions: Option<f64>,
        }
    };
}

/// A record built field for field from `src`, a record with the same fields
/// (callback of [`load_fields!`] and [`totals_fields!`]):
/// `totals_fields!(copy_fields!(wit::Totals, native.totals))`.
#[macro_export]
macro_rules! copy_fields {
    (($($ty:ident)::+, $src:expr) $( $(#[$doc:meta])* $field:ident : $t:ty, )*) => {
        $($ty)::+ { $( $field: $src.$field, )* }
    };
}

/// A JSON object of `src`'s fields, in order (callback of [`load_fields!`]
/// and [`totals_fields!`], used by [`crate::json_writer!`]).
#[doc(hidden)]
#[macro_export]
macro_rules! json_fields {
    (($src:expr) $( $(#[$doc:meta])* $field:ident : $t:ty, )*) => {{
        let mut map = $crate::__private::serde_json::Map::new();
        $( map.insert(stringify!($field).into(), $crate::ToJson::to_json(&$src.$field)); )*
        $crate::__private::serde_json::Value::Object(map)
    }};
}

/// How a field of a flat record is written in JSON.
#[doc(hidden)]
pub trait ToJson {
    /// The JSON value.
    fn to_json(&self) -> serde_json::Value;
}

impl ToJson for Option<f64> {
    fn to_json(&self) -> serde_json::Value {
        crate::opt_number(*self)
    }
}

impl ToJson for Option<u32> {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!(self)
    }
}

impl ToJson for Option<Vec<String>> {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!(self)
    }
}
