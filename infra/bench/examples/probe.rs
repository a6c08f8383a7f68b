//! Times raw DynamoDB calls against a running stack (profiling aid for `make bench`).
use std::time::Instant;

#[tokio::main]
async fn main() {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = std::env::args().nth(1).unwrap_or_else(|| "biztechPartnersbench".into());
    let projection = std::env::args().nth(2);
    for _ in 0..3 {
        let started = Instant::now();
        let mut start = None;
        let (mut items, mut pages, mut bytes) = (0, 0, 0usize);
        loop {
            let mut request = client.scan().table_name(&table).set_exclusive_start_key(start.take());
            if let Some(p) = &projection {
                request = request.projection_expression(p);
            }
            let out = request.send().await.unwrap();
            pages += 1;
            items += out.count;
            bytes += format!("{:?}", out.items).len();
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        println!(
            "{table}: {items} items in {pages} pages, ~{bytes} debug bytes, {:?}",
            started.elapsed()
        );
    }
}
