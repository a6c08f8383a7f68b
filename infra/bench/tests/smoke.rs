//! Keeps the harness from rotting: seeds a tiny dataset through a real gateway on loopback and
//! probes every benchmarked route once (the wrk runs themselves are `make bench` only).

use std::sync::Arc;

use bench::Api;
use bench::dataset::{Shape, seed};
use local_stack::bootstrap::create_missing_tables;
use local_stack::functions::Functions;
use local_stack::gateway::{Gateway, serve};
use local_stack::streams::StreamPoller;
use local_stack::template::Template;
use shared::config::{AdminPolicy, Config};

#[tokio::test]
async fn harness_seeds_and_probes_every_route() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
        "run with make test (DynamoDB Local)"
    );
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let template = Template::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml")).unwrap();
    let env = format!("b{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    create_missing_tables(&client, &template, &env).await.unwrap();
    let config = Config::build(&env, "", AdminPolicy::from_parts("", "example.org", "")).unwrap();
    let functions = Functions::new(&template, &config, &sdk).unwrap();
    let streams = Arc::new(StreamPoller::new(&template, functions.clone(), &sdk, &env));
    let gateway = Arc::new(
        Gateway::new(&template, functions)
            .unwrap()
            .with_streams(streams.clone()),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, gateway, async {
        let _ = stopped.await;
    }));

    let api = Api::new(&base);
    let shape = Shape::tiny();
    let data = seed(&api, shape).await.unwrap();
    assert_eq!(
        (data.partner_ids.len(), data.event_ids.len(), data.link_ids.len()),
        (12, 2, 18)
    );
    let probes = [
        ("GET", "/partnerships/partners".to_string()),
        ("GET", format!("/partnerships/partners/{}", data.partner_ids[0])),
        ("GET", "/partnerships/dashboard".to_string()),
        ("GET", format!("/partnerships/events/{}", data.event_ids[0])),
        ("GET", "/partnerships/events".to_string()),
    ];
    for (method, path) in probes {
        let answer = api.expect(method, &path, None).await.unwrap();
        assert!(
            answer.items_read.is_some_and(|n| n > 0),
            "{path} reports the items it read"
        );
    }
    let directory = api.expect("GET", "/partnerships/partners", None).await.unwrap();
    assert_eq!(directory.body["partners"].as_array().map(Vec::len), Some(12));
    assert_eq!(
        directory.items_read,
        Some(12 + 18 + 1),
        "the directory reads every partner, every link and the tier catalog, nothing cached"
    );
    // The dashboard reads what the stream processor derived from the links.
    streams.drain().await.unwrap();
    let dashboard = api.expect("GET", "/partnerships/dashboard", None).await.unwrap();
    assert_eq!(dashboard.body["totals"]["relationshipCount"], 18);
    let cost = api.expect("GET", "/_local/streams", None).await.unwrap();
    assert!(cost.body["records"].as_u64().unwrap() >= 18, "{:?}", cost.body);
    assert!(
        cost.body["writeUnits"].as_f64().unwrap() > 0.0,
        "the processor's writes are metered"
    );
    let _ = stop.send(());
    server.await.unwrap();
}
