//! Creates the template's tables for a stage when they are missing; safe to run again.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, DeleteGlobalSecondaryIndexAction,
    GlobalSecondaryIndex, GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType,
};

use crate::template::{TableSpec, Template};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, BoxError> {
    Ok(KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()?)
}

async fn existing_tables(client: &Client) -> Result<Vec<String>, BoxError> {
    let mut names = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let out = client
            .list_tables()
            .set_exclusive_start_table_name(start.take())
            .send()
            .await?;
        names.extend(out.table_names.unwrap_or_default());
        match out.last_evaluated_table_name {
            Some(last) => start = Some(last),
            None => return Ok(names),
        }
    }
}

fn attribute_definitions(spec: &TableSpec) -> Result<Vec<AttributeDefinition>, BoxError> {
    spec.attribute_types
        .iter()
        .map(|(attr, kind)| {
            Ok(AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()?)
        })
        .collect()
}

fn gsi_keys(gsi: &crate::template::GsiSpec) -> Result<Vec<KeySchemaElement>, BoxError> {
    let mut keys = vec![key(&gsi.hash_key, KeyType::Hash)?];
    if let Some(range) = &gsi.range_key {
        keys.push(key(range, KeyType::Range)?);
    }
    Ok(keys)
}

fn projection(gsi: &crate::template::GsiSpec) -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::from(gsi.projection.as_str()))
        .build()
}

/// Brings an existing table's GSIs (kept data from an older template) in line with the
/// template: removes the ones it no longer declares, adds the ones it lacks.
async fn add_missing_indexes(client: &Client, spec: &TableSpec, name: &str) -> Result<Vec<String>, BoxError> {
    let described = client.describe_table().table_name(name).send().await?;
    let existing: Vec<String> = described
        .table
        .and_then(|t| t.global_secondary_indexes)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|g| g.index_name)
        .collect();
    let mut added = Vec::new();
    // Indexes a newer template dropped (as CloudFormation would delete them).
    for gone in existing
        .iter()
        .filter(|name| !spec.gsis.iter().any(|g| &g.name == *name))
    {
        client
            .update_table()
            .table_name(name)
            .global_secondary_index_updates(
                GlobalSecondaryIndexUpdate::builder()
                    .delete(DeleteGlobalSecondaryIndexAction::builder().index_name(gone).build()?)
                    .build(),
            )
            .send()
            .await?;
        added.push(format!("{name}/{gone} (removed)"));
    }
    for gsi in spec.gsis.iter().filter(|g| !existing.contains(&g.name)) {
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(&gsi.name)
            .set_key_schema(Some(gsi_keys(gsi)?))
            .projection(projection(gsi))
            .build()?;
        client
            .update_table()
            .table_name(name)
            .set_attribute_definitions(Some(attribute_definitions(spec)?))
            .global_secondary_index_updates(GlobalSecondaryIndexUpdate::builder().create(create).build())
            .send()
            .await?;
        added.push(format!("{name}/{}", gsi.name));
    }
    Ok(added)
}

fn stream_specification(spec: &TableSpec) -> Result<Option<StreamSpecification>, BoxError> {
    spec.stream_view_type
        .as_deref()
        .map(|view| {
            Ok(StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view))
                .build()?)
        })
        .transpose()
}

/// Turns on the stream a newer template declares on a table kept from an older one.
async fn enable_missing_stream(client: &Client, spec: &TableSpec, name: &str) -> Result<Option<String>, BoxError> {
    let Some(stream) = stream_specification(spec)? else {
        return Ok(None);
    };
    let described = client.describe_table().table_name(name).send().await?;
    let enabled = described
        .table
        .and_then(|t| t.stream_specification)
        .is_some_and(|s| s.stream_enabled);
    if enabled {
        return Ok(None);
    }
    client
        .update_table()
        .table_name(name)
        .stream_specification(stream)
        .send()
        .await?;
    Ok(Some(format!("{name} (stream)")))
}

async fn create_table(client: &Client, spec: &TableSpec, name: &str) -> Result<(), BoxError> {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(
            std::iter::once(key(&spec.hash_key, KeyType::Hash))
                .chain(spec.range_key.iter().map(|r| key(r, KeyType::Range)))
                .collect::<Result<Vec<_>, _>>()?,
        ))
        .set_attribute_definitions(Some(attribute_definitions(spec)?))
        .set_stream_specification(stream_specification(spec)?);
    for gsi in &spec.gsis {
        let index = GlobalSecondaryIndex::builder()
            .index_name(&gsi.name)
            .set_key_schema(Some(gsi_keys(gsi)?))
            .projection(projection(gsi));
        request = request.global_secondary_indexes(index.build()?);
    }
    match request.send().await {
        Ok(_) => Ok(()),
        // Another process created it meanwhile: the goal is reached.
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Creates every table of `template` missing for `env`, and the GSIs missing on tables kept
/// from an older template; returns what it created.
pub async fn create_missing_tables(client: &Client, template: &Template, env: &str) -> Result<Vec<String>, BoxError> {
    let existing = existing_tables(client).await?;
    let mut created = Vec::new();
    for spec in &template.tables {
        let name = spec.name_for(env);
        if existing.contains(&name) {
            created.extend(add_missing_indexes(client, spec, &name).await?);
            created.extend(enable_missing_stream(client, spec, &name).await?);
        } else {
            create_table(client, spec, &name).await?;
            created.push(name);
        }
    }
    Ok(created)
}
