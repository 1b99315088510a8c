//! Responses every route can give by the way the web layer works, added to the OpenAPI
//! document in one place so no route's declaration can forget them: a route with a body can
//! answer 413, 415 and 422; one with path or query parameters 422; one behind a token 401.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{AdditionalProperties, Schema};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};

fn error_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
            .build(),
    )
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
}

pub fn add_common_responses(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for op in operations(item) {
            let has_body = op.request_body.is_some();
            let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let mut add = |status: &str, description: &str| {
                op.responses.responses.entry(status.to_string()).or_insert_with(|| error_response(description));
            };
            if has_body {
                add("413", "the body is larger than 1 MiB");
                add("415", "wrong content type");
            }
            if has_body || has_params {
                add("422", "a field or parameter is invalid; the error names it");
            }
            if secured {
                add("401", "sign-in required");
            }
        }
    }
}

/// utoipa writes `additionalProperties: false` for structs that deny unknown fields but not for
/// the variants of a tagged enum that does (every request enum here does: `ApiJson` bodies are
/// exact). Mark those variants, so the document refuses what the server refuses.
pub fn close_tagged_unions(doc: &mut OpenApi) {
    let Some(components) = doc.components.as_mut() else { return };
    for schema in components.schemas.values_mut() {
        let RefOr::T(Schema::OneOf(one_of)) = schema else { continue };
        for variant in &mut one_of.items {
            if let RefOr::T(Schema::Object(obj)) = variant {
                if !obj.properties.is_empty() {
                    obj.additional_properties.get_or_insert_with(|| Box::new(AdditionalProperties::FreeForm(false)));
                }
            }
        }
    }
}
