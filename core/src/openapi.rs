//! JSON Schemas of the types whose serde form is written by hand (ids, role sets), so the server's OpenAPI document describes exactly what goes over the
//! wire. Everything else derives its schema beside its serde derive.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::ids::Actor;
use crate::roles::{Role, RoleSet};

/// A bounded text value: what `ids::check_text` accepts.
pub(crate) fn text(description: &str, min: usize, max: usize) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .min_length(Some(min))
        .max_length(Some(max))
        .into()
}

impl PartialSchema for Actor {
    fn schema() -> RefOr<Schema> {
        text("a user id, or `system` for the routing engine, telephony or billing", 1, 128)
    }
}
impl ToSchema for Actor {}

impl PartialSchema for RoleSet {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(Role::schema())
            .unique_items(true)
            .description(Some("roles in canonical order: agent, supervisor, admin"))
            .into()
    }
}
impl ToSchema for RoleSet {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Role::name().into(), Role::schema()));
    }
}
