//! Reads what the local stack needs from `template.yaml` — tables, HTTP routes and CORS — so
//! the template stays the one source of truth for both the cloud and the local stack.

use std::path::Path;

use serde_json::{Map, Value};

/// Why the template could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read template: {0}")]
    Io(#[from] std::io::Error),
    #[error("template is not valid YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    #[error("template: {0}")]
    Shape(String),
}

/// A global secondary index as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GsiSpec {
    pub name: String,
    pub hash_key: String,
    pub range_key: Option<String>,
    pub projection: String,
}

/// A DynamoDB table as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub logical_id: String,
    /// `TableName`, with `${Env}` still in it.
    pub name_template: String,
    pub hash_key: String,
    pub range_key: Option<String>,
    /// Attribute name → `S` / `N` / `B`.
    pub attribute_types: Vec<(String, String)>,
    pub gsis: Vec<GsiSpec>,
    pub billing_mode: String,
    pub point_in_time_recovery: bool,
    /// `StreamSpecification.StreamViewType`, when the table has a stream.
    pub stream_view_type: Option<String>,
}

impl TableSpec {
    /// The concrete table name for a stage.
    pub fn name_for(&self, env: &str) -> String {
        self.name_template.replace("${Env}", env)
    }
}

/// An HTTP API route and the function binary serving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: String,
    pub path: String,
    /// `BuildProperties.Binary` of the function.
    pub binary: String,
    /// True when the route opts out of the JWT authorizer (`Auth.Authorizer: NONE`).
    pub public: bool,
}

impl RouteSpec {
    /// `METHOD /path/{param}`, as API Gateway names the route.
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A function as declared: its binary and the IAM policies of its execution role.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    pub logical_id: String,
    /// `BuildProperties.Binary`.
    pub binary: String,
    /// `Properties.Policies`, intrinsics still unresolved (see `iam`).
    pub policies: Vec<Value>,
    /// Its `Type: DynamoDB` events: the table streams Lambda feeds it.
    pub stream_sources: Vec<StreamSourceSpec>,
    /// Its `Type: EventBridgeRule` events: the buses and patterns that invoke it.
    pub event_rules: Vec<EventRuleSpec>,
}

/// An EventBridge rule that targets a function.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRuleSpec {
    /// The bus name, with `${Env}` still in it.
    pub bus_name_template: String,
    /// The rule's event pattern.
    pub pattern: Value,
}

/// An event source mapping from a table's stream to a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSourceSpec {
    /// Logical id of the table whose `StreamArn` the event names.
    pub table_logical_id: String,
    /// Records per invocation at most.
    pub batch_size: usize,
    /// Whether the function answers partial batch failures (`ReportBatchItemFailures`).
    pub reports_item_failures: bool,
}

/// The HTTP API's CORS configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsSpec {
    pub allow_origins: Vec<String>,
    pub allow_headers: Vec<String>,
    pub allow_methods: Vec<String>,
    /// Response headers a browser script may read (`ETag`, `Idempotent-Replayed`).
    pub expose_headers: Vec<String>,
    pub max_age: Option<u64>,
}

/// What the local stack reads from the template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub tables: Vec<TableSpec>,
    pub routes: Vec<RouteSpec>,
    pub functions: Vec<FunctionSpec>,
    pub cors: CorsSpec,
    /// Every resource as declared (YAML as JSON), for checks on the deploy itself.
    pub resources: Map<String, Value>,
}

/// YAML to JSON, turning short-form intrinsics (`!Sub x`) into `{"!Sub": x}`.
fn to_json(value: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(n).unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .filter_map(|(k, v)| match k {
                    Y::String(k) => Some((k, to_json(v))),
                    _ => None,
                })
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let mut map = Map::new();
            map.insert(tagged.tag.to_string(), to_json(tagged.value));
            Value::Object(map)
        }
    }
}

fn shape(message: String) -> TemplateError {
    TemplateError::Shape(message)
}

fn str_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn key_of(schema: &Value, kind: &str) -> Option<String> {
    schema
        .as_array()?
        .iter()
        .find(|k| k["KeyType"] == kind)
        .and_then(|k| k["AttributeName"].as_str())
        .map(str::to_string)
}

impl Template {
    /// Reads and parses a template file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, TemplateError> {
        Self::parse(&std::fs::read_to_string(path)?)
    }

    /// Parses template text.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let root = to_json(serde_norway::from_str(text)?);
        let resources = root["Resources"]
            .as_object()
            .ok_or_else(|| shape("no Resources".into()))?;
        let mut tables = Vec::new();
        let mut routes = Vec::new();
        let mut functions = Vec::new();
        let mut cors = CorsSpec::default();
        for (logical_id, resource) in resources {
            let props = &resource["Properties"];
            match resource["Type"].as_str() {
                Some("AWS::DynamoDB::Table") => tables.push(Self::table(logical_id, props)?),
                Some("AWS::Serverless::Function") => {
                    let binary = resource["Metadata"]["BuildProperties"]["Binary"]
                        .as_str()
                        .ok_or_else(|| shape(format!("{logical_id}: no Metadata.BuildProperties.Binary")))?;
                    let events = props["Events"].as_object().into_iter().flat_map(|e| e.values());
                    functions.push(FunctionSpec {
                        logical_id: logical_id.clone(),
                        binary: binary.to_string(),
                        policies: props["Policies"].as_array().cloned().unwrap_or_default(),
                        stream_sources: events
                            .clone()
                            .filter(|e| e["Type"] == "DynamoDB")
                            .map(|e| Self::stream_source(logical_id, &e["Properties"]))
                            .collect::<Result<_, _>>()?,
                        event_rules: events
                            .clone()
                            .filter(|e| e["Type"] == "EventBridgeRule")
                            .map(|e| Self::event_rule(logical_id, &e["Properties"], resources))
                            .collect::<Result<_, _>>()?,
                    });
                    for event in events {
                        if event["Type"] != "HttpApi" {
                            continue;
                        }
                        let p = &event["Properties"];
                        routes.push(RouteSpec {
                            method: p["Method"].as_str().unwrap_or_default().to_uppercase(),
                            path: p["Path"].as_str().unwrap_or_default().to_string(),
                            binary: binary.to_string(),
                            public: p["Auth"]["Authorizer"] == "NONE",
                        });
                    }
                }
                Some("AWS::Serverless::HttpApi") => {
                    let c = &props["CorsConfiguration"];
                    cors = CorsSpec {
                        allow_origins: str_list(c.get("AllowOrigins")),
                        allow_headers: str_list(c.get("AllowHeaders")),
                        allow_methods: str_list(c.get("AllowMethods")),
                        expose_headers: str_list(c.get("ExposeHeaders")),
                        max_age: c["MaxAge"].as_u64(),
                    };
                }
                _ => {}
            }
        }
        Ok(Self {
            tables,
            routes,
            functions,
            cors,
            resources: resources.clone(),
        })
    }

    fn event_rule(
        function: &str,
        props: &Value,
        resources: &Map<String, Value>,
    ) -> Result<EventRuleSpec, TemplateError> {
        let bus = props["EventBusName"]
            .get("!Ref")
            .or_else(|| props["EventBusName"].get("Ref"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                shape(format!(
                    "{function}: an EventBridgeRule's EventBusName must be !Ref <EventBus>"
                ))
            })?;
        let name = &resources[bus]["Properties"]["Name"];
        let bus_name_template = name
            .get("!Sub")
            .or_else(|| name.get("Fn::Sub"))
            .or(Some(name))
            .and_then(Value::as_str)
            .ok_or_else(|| shape(format!("{function}: event bus {bus} needs a Name")))?;
        Ok(EventRuleSpec {
            bus_name_template: bus_name_template.to_string(),
            pattern: props["Pattern"].clone(),
        })
    }

    fn stream_source(function: &str, props: &Value) -> Result<StreamSourceSpec, TemplateError> {
        let stream = &props["Stream"];
        let target = stream.get("!GetAtt").or_else(|| stream.get("Fn::GetAtt"));
        let target = match target {
            Some(Value::String(dotted)) => dotted.clone(),
            Some(Value::Array(parts)) => parts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("."),
            _ => String::new(),
        };
        let table = target.strip_suffix(".StreamArn").ok_or_else(|| {
            shape(format!(
                "{function}: a DynamoDB event's Stream must be !GetAtt <Table>.StreamArn"
            ))
        })?;
        Ok(StreamSourceSpec {
            table_logical_id: table.to_string(),
            batch_size: props["BatchSize"].as_u64().map_or(100, |n| n as usize),
            reports_item_failures: str_list(props.get("FunctionResponseTypes"))
                .iter()
                .any(|t| t == "ReportBatchItemFailures"),
        })
    }

    fn table(logical_id: &str, props: &Value) -> Result<TableSpec, TemplateError> {
        let name = &props["TableName"];
        let name_template = name
            .get("!Sub")
            .or_else(|| name.get("Fn::Sub"))
            .or(Some(name))
            .and_then(Value::as_str)
            .ok_or_else(|| shape(format!("{logical_id}: TableName must be a string or !Sub")))?;
        let gsis = props["GlobalSecondaryIndexes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| GsiSpec {
                name: g["IndexName"].as_str().unwrap_or_default().to_string(),
                hash_key: key_of(&g["KeySchema"], "HASH").unwrap_or_default(),
                range_key: key_of(&g["KeySchema"], "RANGE"),
                projection: g["Projection"]["ProjectionType"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            })
            .collect();
        Ok(TableSpec {
            logical_id: logical_id.to_string(),
            name_template: name_template.to_string(),
            hash_key: key_of(&props["KeySchema"], "HASH").ok_or_else(|| shape(format!("{logical_id}: no HASH key")))?,
            range_key: key_of(&props["KeySchema"], "RANGE"),
            attribute_types: props["AttributeDefinitions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| {
                    Some((
                        a["AttributeName"].as_str()?.to_string(),
                        a["AttributeType"].as_str()?.to_string(),
                    ))
                })
                .collect(),
            gsis,
            billing_mode: props["BillingMode"].as_str().unwrap_or_default().to_string(),
            point_in_time_recovery: props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] == true,
            stream_view_type: props["StreamSpecification"]["StreamViewType"]
                .as_str()
                .map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::tables::ALL;

    fn template() -> Template {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
        match Template::load(path) {
            Ok(t) => t,
            Err(e) => panic!("template.yaml must parse: {e}"),
        }
    }

    /// `template.yaml` and `shared::tables` must describe the same six tables.
    #[test]
    fn template_tables_agree_with_shared_definitions() {
        let t = template();
        assert_eq!(
            t.tables.len(),
            ALL.len(),
            "the template must define exactly the tables of shared::tables::ALL"
        );
        for def in ALL {
            let spec = t
                .tables
                .iter()
                .find(|s| s.logical_id == def.logical_id)
                .unwrap_or_else(|| panic!("{} missing", def.logical_id));
            assert_eq!(spec.name_template, format!("{}${{Env}}", def.base_name));
            assert_eq!(spec.hash_key, def.hash_key);
            assert_eq!(spec.range_key.as_deref(), def.range_key);
            assert_eq!(spec.billing_mode, "PAY_PER_REQUEST", "{}", def.logical_id);
            assert!(
                spec.point_in_time_recovery,
                "{} needs point-in-time recovery",
                def.logical_id
            );
            let type_of = |attr: &str| {
                spec.attribute_types
                    .iter()
                    .find(|(a, _)| a == attr)
                    .map(|(_, t)| t.as_str())
            };
            assert_eq!(type_of(def.hash_key), Some("S"));
            assert_eq!(spec.gsis.len(), def.gsis.len(), "{} GSIs", def.logical_id);
            for gsi in def.gsis {
                let g = spec
                    .gsis
                    .iter()
                    .find(|g| g.name == gsi.name)
                    .unwrap_or_else(|| panic!("{} lacks {}", def.logical_id, gsi.name));
                assert_eq!(g.hash_key, gsi.hash_key);
                assert_eq!(g.range_key.as_deref(), Some(gsi.range_key));
                assert_eq!(g.projection, "ALL");
                assert_eq!(type_of(gsi.hash_key), Some("S"));
                assert_eq!(type_of(gsi.range_key), Some(gsi.range_type));
            }
            assert_eq!(
                spec.attribute_types.len(),
                std::iter::once(def.hash_key)
                    .chain(def.range_key)
                    .chain(def.gsis.iter().flat_map(|g| [g.hash_key, g.range_key]))
                    .collect::<std::collections::BTreeSet<_>>()
                    .len(),
                "{}: exactly the key attributes are declared",
                def.logical_id
            );
        }
    }

    /// A stack delete or replacement never drops the CRM; every table is protected, recoverable
    /// and may use the operator's key.
    #[test]
    fn tables_are_retained_protected_and_recoverable() {
        let t = template();
        for table in &t.tables {
            let resource = &t.resources[&table.logical_id];
            assert_eq!(resource["DeletionPolicy"], "Retain", "{}", table.logical_id);
            assert_eq!(resource["UpdateReplacePolicy"], "Retain", "{}", table.logical_id);
            let props = &resource["Properties"];
            assert_eq!(props["DeletionProtectionEnabled"], true, "{}", table.logical_id);
            assert!(table.point_in_time_recovery, "{}", table.logical_id);
            let sse = &props["SSESpecification"]["!If"];
            assert_eq!(
                sse[0], "HasTableKmsKey",
                "{}: optional customer-managed key",
                table.logical_id
            );
            assert_eq!(sse[1]["KMSMasterKeyId"], serde_json::json!({"!Ref": "TableKmsKeyArn"}));
        }
    }

    /// The API is throttled, every function's logs expire, and a failing rollup raises an alarm.
    #[test]
    fn the_deploy_is_throttled_logged_and_alarmed() {
        let t = template();
        let api = &t.resources["HttpApi"]["Properties"]["DefaultRouteSettings"];
        assert_eq!(
            api["ThrottlingBurstLimit"],
            serde_json::json!({"!Ref": "ApiThrottlingBurstLimit"})
        );
        assert_eq!(
            api["ThrottlingRateLimit"],
            serde_json::json!({"!Ref": "ApiThrottlingRateLimit"})
        );
        let of_type = |kind: &str| {
            t.resources
                .iter()
                .filter(move |(_, r)| r["Type"] == kind)
                .map(|(id, r)| (id.clone(), r.clone()))
                .collect::<Vec<_>>()
        };
        let groups = of_type("AWS::Logs::LogGroup");
        for function in &t.functions {
            let name = serde_json::json!({"!Sub": format!("/aws/lambda/${{{}}}", function.logical_id)});
            let group = groups
                .iter()
                .find(|(_, g)| g["Properties"]["LogGroupName"] == name)
                .unwrap_or_else(|| panic!("{} has no log group", function.logical_id));
            assert!(
                !group.1["Properties"]["RetentionInDays"].is_null(),
                "{} keeps logs forever",
                function.logical_id
            );
        }
        let alarms = of_type("AWS::CloudWatch::Alarm");
        assert!(
            alarms.iter().any(|(_, a)| {
                let p = &a["Properties"];
                p["MetricName"] == "Errors"
                    && p["Namespace"] == "AWS/Lambda"
                    && p["Dimensions"][0]["Value"] == serde_json::json!({"!Ref": "RollupFunction"})
            }),
            "an alarm on the rollup's errors"
        );
    }

    /// Lambda retries a stream batch from the record the function names, and the processor's
    /// exactly-once mark relies on retries starting at a batch's first record: no bisecting, no
    /// parallel batches per shard, and the table streams both images.
    #[test]
    fn stream_mappings_report_item_failures_on_tables_with_both_images() {
        let t = template();
        let processor = t
            .functions
            .iter()
            .find(|f| f.binary == "stream")
            .expect("a stream processor");
        assert!(!processor.stream_sources.is_empty());
        for source in &processor.stream_sources {
            assert!(source.reports_item_failures, "{source:?}");
            let table = t
                .tables
                .iter()
                .find(|s| s.logical_id == source.table_logical_id)
                .expect("the stream's table");
            assert_eq!(table.stream_view_type.as_deref(), Some("NEW_AND_OLD_IMAGES"));
        }
        let events = &t.resources[&processor.logical_id]["Properties"]["Events"];
        for event in events.as_object().into_iter().flat_map(|e| e.values()) {
            assert_eq!(event["Properties"]["BisectBatchOnFunctionError"], false);
            assert_eq!(event["Properties"]["ParallelizationFactor"], 1);
        }
    }

    #[test]
    fn routes_and_cors_are_read() {
        let t = template();
        assert!(
            t.routes
                .iter()
                .any(|r| r.route_key() == "GET /partnerships/partners/{partnerId}"
                    && r.binary == "partners"
                    && !r.public)
        );
        assert_eq!(t.cors.allow_origins, vec!["*"]);
        assert!(t.cors.allow_methods.contains(&"PATCH".to_string()));
    }

    #[test]
    fn short_and_long_intrinsics_both_parse() {
        let t = Template::parse(
            "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      TableName:\n        Fn::Sub: x${Env}\n      KeySchema:\n        - AttributeName: id\n          KeyType: HASH\n",
        )
        .unwrap();
        assert_eq!(t.tables[0].name_for("dev"), "xdev");
    }
}
