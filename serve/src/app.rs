//! The whole HTTP application: the JSON API ([`crate::routes`]) and the
//! pages for people ([`crate::pages`]) side by side, under one layer that
//! turns a panic in any handler into a 500 for that request alone.
//!
//! Invariant: this is the only place the two meet, so the pages may read
//! the API's handlers while the API never knows the pages exist (no import
//! circle between the rooms).

use std::sync::Arc;

use axum::Router;

use crate::state::Service;
use crate::{pages, routes};

/// The API and the pages, ready to serve.
pub fn router(service: Arc<Service>) -> Router {
    routes::api(service.clone())
        .merge(pages::router(service.clone()))
        .layer(routes::catch_panics())
        .with_state(service)
}
