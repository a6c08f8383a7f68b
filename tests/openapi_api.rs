//! The OpenAPI document (`api/openapi.json`) describes exactly the routes of `template.yaml`,
//! and every operation its success and its JSON errors.

use std::collections::BTreeSet;

use integration_tests::{repo_path, template};
use serde_json::Value;

fn document() -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo_path("api/openapi.json")).expect("api/openapi.json"))
        .expect("valid JSON")
}

#[test]
fn the_document_and_the_template_name_the_same_routes() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    let deployed: BTreeSet<String> = template().routes.iter().map(|r| r.route_key()).collect();
    let undocumented: Vec<_> = deployed.difference(&documented).collect();
    let phantom: Vec<_> = documented.difference(&deployed).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from api/openapi.json: {undocumented:?}"
    );
    assert!(
        phantom.is_empty(),
        "documented routes template.yaml does not deploy: {phantom:?}"
    );
}

#[test]
fn every_operation_documents_its_success_and_json_errors() {
    let doc = document();
    let public: BTreeSet<String> = template()
        .routes
        .iter()
        .filter(|r| r.public)
        .map(|r| r.route_key())
        .collect();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let key = format!("{} {path}", method.to_uppercase());
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.keys().any(|c| c.starts_with('2')), "{key}: no success");
            let errors: Vec<_> = responses
                .iter()
                .filter(|(c, _)| c.starts_with('4') || c.starts_with('5'))
                .collect();
            assert!(!errors.is_empty(), "{key}: no error documented");
            for (code, response) in errors {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"]
                        .as_str()
                        .map(|r| r.ends_with("Error") || r.ends_with("PreconditionFailed")),
                    Some(true),
                    "{key} {code}: errors are JSON with a message"
                );
            }
            assert_eq!(
                op["security"] == serde_json::json!([]),
                public.contains(&key),
                "{key}: public in one, not the other"
            );
        }
    }
}
