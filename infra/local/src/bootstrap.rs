//! Creates the template's tables for a stage when they are missing; safe to run again.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
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

async fn create_table(client: &Client, spec: &TableSpec, name: &str) -> Result<(), BoxError> {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(&spec.hash_key, KeyType::Hash)?);
    for (attr, kind) in &spec.attribute_types {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()?,
        );
    }
    for gsi in &spec.gsis {
        let mut index = GlobalSecondaryIndex::builder()
            .index_name(&gsi.name)
            .key_schema(key(&gsi.hash_key, KeyType::Hash)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::from(gsi.projection.as_str()))
                    .build(),
            );
        if let Some(range) = &gsi.range_key {
            index = index.key_schema(key(range, KeyType::Range)?);
        }
        request = request.global_secondary_indexes(index.build()?);
    }
    match request.send().await {
        Ok(_) => Ok(()),
        // Another process created it meanwhile: the goal is reached.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Creates every table of `template` missing for `env`; returns the names it created.
pub async fn create_missing_tables(
    client: &Client,
    template: &Template,
    env: &str,
) -> Result<Vec<String>, BoxError> {
    let existing = existing_tables(client).await?;
    let mut created = Vec::new();
    for spec in &template.tables {
        let name = spec.name_for(env);
        if !existing.contains(&name) {
            create_table(client, spec, &name).await?;
            created.push(name);
        }
    }
    Ok(created)
}
