//! Local IAM: every function's AWS clients send only what its execution role's `Policies` in
//! `template.yaml` allow, judged as AWS judges it (explicit deny wins, then any allow, else an
//! implicit deny), and a denied call is answered as AWS answers it: HTTP 400
//! `AccessDeniedException`. DynamoDB Local and the other emulators enforce nothing, so without
//! this a missing grant would only show on AWS, as a 500 on every call of the route.
//!
//! The check sits at the client's HTTP layer: it reads the request the SDK is about to send (the
//! operation from `X-Amz-Target`, tables and indexes from the JSON body) and either forwards it or
//! answers in the service's place. A service this module cannot read is denied, so a function
//! that gains a new AWS client fails locally until its requests are understood here.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use serde_json::{Map, Value};

use crate::template::{FunctionSpec, Template};

/// The local account id every ARN carries.
pub const LOCAL_ACCOUNT: &str = "000000000000";

/// Why a function's policy could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("{function}: {message}")]
    Policy { function: String, message: String },
    #[error("template has no function with binary {0:?}")]
    NoFunction(String),
}

/// Where the stack runs: what `${AWS::Region}`, `${AWS::AccountId}`, `${Env}` and the other
/// template parameters stand for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub env: String,
    pub region: String,
    pub account: String,
    /// Template parameters other than `Env`, as `sam deploy --parameter-overrides` sets them.
    pub parameters: std::collections::BTreeMap<String, String>,
}

/// The local stage's SES identity (`SesIdentity`): `PARTNERSHIPS_SES_IDENTITY`, else
/// `example.org`, the domain `make run` admits.
pub fn local_ses_identity() -> String {
    std::env::var("PARTNERSHIPS_SES_IDENTITY")
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "example.org".to_string())
}

impl Stage {
    /// The local stage `env` in `region`.
    pub fn local(env: &str, region: &str) -> Self {
        Self {
            env: env.to_string(),
            region: region.to_string(),
            account: LOCAL_ACCOUNT.to_string(),
            parameters: std::collections::BTreeMap::from([("SesIdentity".to_string(), local_ses_identity())]),
        }
    }

    /// The ARN of DynamoDB table `name` (a name that is an ARN already stays as it is).
    pub fn table_arn(&self, name: &str) -> String {
        if name.starts_with("arn:") {
            return name.to_string();
        }
        format!("arn:aws:dynamodb:{}:{}:table/{name}", self.region, self.account)
    }
}

/// One `Condition` test: the request's value of `key` must match one of `values`
/// (`StringLike` with IAM wildcards, `StringEquals` exactly). A request without the key fails it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ConditionTest {
    like: bool,
    key: String,
    values: Vec<String>,
}

impl ConditionTest {
    fn holds(&self, context: &[(String, String)]) -> bool {
        context
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(&self.key))
            .any(|(_, actual)| {
                self.values.iter().any(|v| {
                    if self.like {
                        wildcard_match(v, actual)
                    } else {
                        v == actual
                    }
                })
            })
    }
}

/// One statement, its resources resolved to concrete ARN patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    allow: bool,
    actions: Vec<String>,
    resources: Vec<String>,
    conditions: Vec<ConditionTest>,
}

impl Statement {
    fn matches(&self, wanted: &Wanted) -> bool {
        self.actions
            .iter()
            .any(|a| wildcard_match(&a.to_ascii_lowercase(), &wanted.action.to_ascii_lowercase()))
            && self.resources.iter().any(|r| wildcard_match(r, &wanted.resource))
            && self.conditions.iter().all(|c| c.holds(&wanted.context))
    }
}

/// One permission a request needs: an action on a resource, with the condition keys AWS
/// evaluates for it (`ses:FromAddress` for a send).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub action: String,
    pub resource: String,
    pub context: Vec<(String, String)>,
}

impl Wanted {
    fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            resource: resource.into(),
            context: Vec::new(),
        }
    }
}

/// IAM's pattern rule: `*` any run of characters, `?` any one character.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The verdict on one action over one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// No statement allows it.
    ImplicitDeny,
    /// A `Deny` statement matches.
    ExplicitDeny,
}

/// A function's execution role: the statements of its `Policies`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolePolicy {
    function: String,
    statements: Vec<Statement>,
    stage: Stage,
}

impl RolePolicy {
    /// The role of the function built from `binary`, resolved for `stage`.
    pub fn for_binary(template: &Template, binary: &str, stage: &Stage) -> Result<Self, IamError> {
        let function = template
            .functions
            .iter()
            .find(|f| f.binary == binary)
            .ok_or_else(|| IamError::NoFunction(binary.to_string()))?;
        Self::for_function(template, function, stage)
    }

    /// The role of `function`, resolved for `stage`. Only inline statements are understood (the
    /// form the template uses); anything else fails here rather than allowing silently.
    pub fn for_function(template: &Template, function: &FunctionSpec, stage: &Stage) -> Result<Self, IamError> {
        let fail = |message: String| IamError::Policy {
            function: function.logical_id.clone(),
            message,
        };
        let mut statements = Vec::new();
        for policy in &function.policies {
            let list = policy.get("Statement").and_then(Value::as_array).ok_or_else(|| {
                fail(format!(
                    "unsupported policy form {policy}; use an inline Statement list"
                ))
            })?;
            for s in list {
                if s.get("NotAction").is_some() || s.get("NotResource").is_some() {
                    return Err(fail(format!(
                        "statement {s} uses NotAction/NotResource, not enforced locally"
                    )));
                }
                let conditions = conditions(s.get("Condition"), template, stage)
                    .map_err(|why| fail(format!("statement {s}: {why}")))?;
                let allow = match s["Effect"].as_str() {
                    Some("Allow") => true,
                    Some("Deny") => false,
                    _ => return Err(fail(format!("statement {s} has no Effect Allow|Deny"))),
                };
                let actions = one_or_many(&s["Action"])
                    .iter()
                    .map(|a| a.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| fail(format!("statement {s}: Action must be strings")))?;
                let resources = one_or_many(&s["Resource"])
                    .iter()
                    .map(|r| resolve(r, template, stage))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(fail)?;
                if actions.is_empty() || resources.is_empty() {
                    return Err(fail(format!("statement {s} needs Action and Resource")));
                }
                statements.push(Statement {
                    allow,
                    actions,
                    resources,
                    conditions,
                });
            }
        }
        Ok(Self {
            function: function.logical_id.clone(),
            statements,
            stage: stage.clone(),
        })
    }

    /// Whether the role may perform `action` on `resource` (a request without condition keys).
    pub fn decide(&self, action: &str, resource: &str) -> Decision {
        self.decide_wanted(&Wanted::new(action, resource))
    }

    /// Whether the role may do what `wanted` asks, its condition keys included.
    pub fn decide_wanted(&self, wanted: &Wanted) -> Decision {
        let matching = |allow: bool| self.statements.iter().any(|s| s.allow == allow && s.matches(wanted));
        if matching(false) {
            Decision::ExplicitDeny
        } else if matching(true) {
            Decision::Allowed
        } else {
            Decision::ImplicitDeny
        }
    }

    /// The first (action, resource) of `request` the role may not perform, with the verdict.
    pub fn first_denied(&self, request: &HttpRequest) -> Option<(String, String, Decision)> {
        let wanted = match requested_permissions(request, &self.stage) {
            Ok(wanted) => wanted,
            Err(why) => return Some((why, "*".into(), Decision::ImplicitDeny)),
        };
        wanted.into_iter().find_map(|w| match self.decide_wanted(&w) {
            Decision::Allowed => None,
            denied => Some((w.action, w.resource, denied)),
        })
    }

    /// The role's ARN as it appears in AWS's denial message.
    fn caller_arn(&self) -> String {
        format!(
            "arn:aws:sts::{}:assumed-role/{}Role/{}",
            self.stage.account, self.function, self.function
        )
    }
}

/// The statement's `Condition` block: `StringLike` and `StringEquals` are understood; any other
/// operator fails here rather than being ignored.
fn conditions(block: Option<&Value>, template: &Template, stage: &Stage) -> Result<Vec<ConditionTest>, String> {
    let Some(block) = block else { return Ok(Vec::new()) };
    let operators = block.as_object().ok_or("Condition must be a map")?;
    let mut tests = Vec::new();
    for (operator, keys) in operators {
        let like = match operator.as_str() {
            "StringLike" => true,
            "StringEquals" => false,
            other => return Err(format!("condition operator {other} is not enforced locally")),
        };
        for (key, values) in keys.as_object().ok_or("a condition operator needs a map of keys")? {
            let values = one_or_many(values)
                .iter()
                .map(|v| resolve(v, template, stage))
                .collect::<Result<Vec<_>, _>>()?;
            tests.push(ConditionTest {
                like,
                key: key.clone(),
                values,
            });
        }
    }
    Ok(tests)
}

fn one_or_many(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// The ARN (or ARN pattern) an intrinsic in a `Resource` stands for.
fn resolve(value: &Value, template: &Template, stage: &Stage) -> Result<String, String> {
    if let Some(text) = value.as_str() {
        return Ok(text.to_string());
    }
    if let Some(target) = value.get("!GetAtt").or_else(|| value.get("Fn::GetAtt")) {
        let target = match target {
            Value::String(s) => s.clone(),
            Value::Array(parts) => parts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("."),
            _ => return Err(format!("cannot read GetAtt {target}")),
        };
        return attribute(&target, template, stage);
    }
    if let Some(pattern) = value
        .get("!Sub")
        .or_else(|| value.get("Fn::Sub"))
        .and_then(Value::as_str)
    {
        let mut out = String::new();
        let mut rest = pattern;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {pattern}"))?;
            let name = &rest[start + 2..start + end];
            out.push_str(&match name {
                "AWS::Region" => stage.region.clone(),
                "AWS::AccountId" => stage.account.clone(),
                "AWS::Partition" => "aws".to_string(),
                "Env" => stage.env.clone(),
                n if stage.parameters.contains_key(n) => stage.parameters[n].clone(),
                n if n.contains('.') => attribute(n, template, stage)?,
                n => reference(n, template, stage)?,
            });
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        return Ok(out);
    }
    if let Some(name) = value.get("!Ref").or_else(|| value.get("Ref")).and_then(Value::as_str) {
        return reference(name, template, stage);
    }
    Err(format!("cannot resolve resource {value} locally"))
}

/// `Ref` of a resource: a table's name.
fn reference(name: &str, template: &Template, stage: &Stage) -> Result<String, String> {
    if name == "Env" {
        return Ok(stage.env.clone());
    }
    template
        .tables
        .iter()
        .find(|t| t.logical_id == name)
        .map(|t| t.name_for(&stage.env))
        .ok_or_else(|| format!("cannot resolve Ref {name} locally"))
}

/// `GetAtt X.Arn` of a table, or `X.StreamArn` (any stream of it: the label is a creation time).
fn attribute(target: &str, template: &Template, stage: &Stage) -> Result<String, String> {
    match target.split_once('.') {
        Some((logical_id, "Arn")) => Ok(stage.table_arn(&reference(logical_id, template, stage)?)),
        Some((logical_id, "StreamArn")) => Ok(format!(
            "{}/stream/*",
            stage.table_arn(&reference(logical_id, template, stage)?)
        )),
        _ => Err(format!("cannot resolve GetAtt {target} locally")),
    }
}

/// The IAM (action, resource) pairs a request needs, by the rules AWS documents: DynamoDB's
/// operation on the table (an index for a Query or Scan with `IndexName`), and for batches and
/// transactions each item's own action on its own table.
pub fn requested_permissions(request: &HttpRequest, stage: &Stage) -> Result<Vec<Wanted>, String> {
    let target = request.headers().get("x-amz-target").unwrap_or_default();
    if let Some(operation) = target.strip_prefix("DynamoDBStreams_20120810.") {
        return stream_permissions(operation, request, stage);
    }
    if let Some(operation) = target.strip_prefix("AWSEvents.") {
        return events_permissions(operation, request, stage);
    }
    if signing_service(request).as_deref() == Some("ses") {
        return ses_permissions(request, stage);
    }
    let Some(operation) = target.strip_prefix("DynamoDB_20120810.") else {
        return Err(format!(
            "local IAM cannot read this request (X-Amz-Target {target:?}, {})",
            request.uri()
        ));
    };
    let body: Map<String, Value> = request
        .body()
        .bytes()
        .and_then(|b| serde_json::from_slice(b).ok())
        .ok_or_else(|| "local IAM could not read the DynamoDB request body".to_string())?;
    let table = |name: Option<&Value>| stage.table_arn(name.and_then(Value::as_str).unwrap_or("*"));
    let action = |op: &str| format!("dynamodb:{op}");
    let tables_of = |key: &str| -> Vec<String> {
        body.get(key)
            .and_then(Value::as_object)
            .map(|m| m.keys().map(|t| stage.table_arn(t)).collect())
            .unwrap_or_default()
    };
    Ok(match operation {
        "BatchGetItem" | "BatchWriteItem" => tables_of("RequestItems")
            .into_iter()
            .map(|t| Wanted::new(action(operation), t))
            .collect(),
        "TransactWriteItems" | "TransactGetItems" => body
            .get("TransactItems")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .flat_map(|item| item.iter())
            .map(|(kind, spec)| {
                let op = match kind.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    _ => "GetItem",
                };
                Wanted::new(action(op), table(spec.get("TableName")))
            })
            .collect(),
        "ListTables" => vec![Wanted::new(action(operation), "*")],
        "Query" | "Scan" => {
            let base = table(body.get("TableName"));
            let resource = match body.get("IndexName").and_then(Value::as_str) {
                Some(index) => format!("{base}/index/{index}"),
                None => base,
            };
            vec![Wanted::new(action(operation), resource)]
        }
        _ => vec![Wanted::new(action(operation), table(body.get("TableName")))],
    })
}

/// The stream a DynamoDB Streams request reads: `StreamArn` in the body, or the ARN a shard
/// iterator starts with (`<stream arn>|…`), re-homed to the stage's region and account (DynamoDB
/// Local names its own).
fn stream_permissions(operation: &str, request: &HttpRequest, stage: &Stage) -> Result<Vec<Wanted>, String> {
    let body: Map<String, Value> = request
        .body()
        .bytes()
        .and_then(|b| serde_json::from_slice(b).ok())
        .ok_or_else(|| "local IAM could not read the DynamoDB Streams request body".to_string())?;
    let arn = match operation {
        "ListStreams" => return Ok(vec![Wanted::new(format!("dynamodb:{operation}"), "*")]),
        "GetRecords" => body
            .get("ShardIterator")
            .and_then(Value::as_str)
            .and_then(|it| it.split('|').next()),
        _ => body.get("StreamArn").and_then(Value::as_str),
    }
    .ok_or_else(|| format!("local IAM cannot tell which stream {operation} reads"))?;
    let table_and_stream = arn
        .split_once(":table/")
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("not a stream ARN: {arn}"))?;
    Ok(vec![Wanted::new(
        format!("dynamodb:{operation}"),
        stage.table_arn(table_and_stream),
    )])
}

/// The service a request is signed for (the SigV4 credential scope's fourth part).
fn signing_service(request: &HttpRequest) -> Option<String> {
    let auth = request.headers().get("authorization")?;
    let scope = auth.split("Credential=").nth(1)?.split(',').next()?;
    scope.split('/').nth(3).map(str::to_string)
}

/// SES (the query protocol): `SendRawEmail` and `SendEmail` on the sending identity (the
/// domain of the From address) with `ses:FromAddress`; other actions on `*`.
fn ses_permissions(request: &HttpRequest, stage: &Stage) -> Result<Vec<Wanted>, String> {
    let bytes = request
        .body()
        .bytes()
        .ok_or("local IAM could not read the SES request body")?;
    let form: Vec<(String, String)> = form_urlencoded::parse(bytes).into_owned().collect();
    let param = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let operation = param("Action").ok_or("an SES request without Action")?;
    let action = format!("ses:{operation}");
    Ok(match operation.as_str() {
        "SendRawEmail" | "SendEmail" => {
            let from = param("Source").ok_or("local IAM needs Source on an SES send")?;
            let address = from
                .rsplit_once('<')
                .map(|(_, a)| a.trim_end_matches('>').to_string())
                .unwrap_or(from.clone())
                .trim()
                .to_lowercase();
            let domain = address.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_default();
            vec![Wanted {
                action,
                resource: format!("arn:aws:ses:{}:{}:identity/{domain}", stage.region, stage.account),
                context: vec![("ses:FromAddress".to_string(), address)],
            }]
        }
        _ => vec![Wanted::new(action, "*")],
    })
}

/// EventBridge: `PutEvents` on each entry's bus (`default` when unnamed).
fn events_permissions(operation: &str, request: &HttpRequest, stage: &Stage) -> Result<Vec<Wanted>, String> {
    let body: Map<String, Value> = request
        .body()
        .bytes()
        .and_then(|b| serde_json::from_slice(b).ok())
        .ok_or("local IAM could not read the EventBridge request body")?;
    let bus_arn = |name: &str| {
        if name.starts_with("arn:") {
            name.to_string()
        } else {
            format!("arn:aws:events:{}:{}:event-bus/{name}", stage.region, stage.account)
        }
    };
    let action = format!("events:{operation}");
    Ok(match operation {
        "PutEvents" => body
            .get("Entries")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|e| Wanted::new(action.clone(), bus_arn(e["EventBusName"].as_str().unwrap_or("default"))))
            .collect(),
        _ => vec![Wanted::new(action, "*")],
    })
}

/// AWS's answer to a call the role may not make.
fn access_denied(
    policy: &RolePolicy,
    request: &HttpRequest,
    action: &str,
    resource: &str,
    decision: Decision,
) -> HttpResponse {
    let why = match decision {
        Decision::ExplicitDeny => "with an explicit deny in an identity-based policy".to_string(),
        _ => format!("because no identity-based policy allows the {action} action"),
    };
    let message = format!(
        "User: {} is not authorized to perform: {action} on resource: {resource} {why}",
        policy.caller_arn()
    );
    tracing::warn!(function = %policy.function, %action, %resource, "local IAM denied a call");
    // Query-protocol services (SES) answer in XML, the JSON ones in JSON.
    if signing_service(request).as_deref() == Some("ses") {
        let escaped = message.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let body = format!(
            "<ErrorResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{escaped}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            uuid::Uuid::new_v4()
        );
        let mut response = HttpResponse::new(
            403.try_into().unwrap_or_else(|_| unreachable!("403 is a valid status")),
            SdkBody::from(body),
        );
        response.headers_mut().insert("content-type", "text/xml");
        return response;
    }
    let body = serde_json::json!({
        "__type": "com.amazon.coral.service#AccessDeniedException",
        "Message": message,
    });
    let mut response = HttpResponse::new(
        400.try_into().unwrap_or_else(|_| unreachable!("400 is a valid status")),
        SdkBody::from(body.to_string()),
    );
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.0");
    response
        .headers_mut()
        .insert("x-amzn-requestid", uuid::Uuid::new_v4().to_string());
    response
}

/// An HTTP client that enforces `policy` in front of the real one.
#[derive(Debug, Clone)]
pub struct EnforcingHttpClient {
    inner: SharedHttpClient,
    policy: Arc<RolePolicy>,
}

impl EnforcingHttpClient {
    /// Enforces `policy` over the SDK's default HTTPS client.
    pub fn new(policy: RolePolicy) -> Self {
        let inner = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .build_https();
        Self {
            inner,
            policy: Arc::new(policy),
        }
    }
}

impl HttpClient for EnforcingHttpClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(EnforcingConnector {
            inner: self.inner.http_connector(settings, components),
            policy: self.policy.clone(),
        })
    }
}

#[derive(Debug)]
struct EnforcingConnector {
    inner: SharedHttpConnector,
    policy: Arc<RolePolicy>,
}

impl HttpConnector for EnforcingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        match self.policy.first_denied(&request) {
            Some((action, resource, decision)) => {
                HttpConnectorFuture::ready(Ok(access_denied(&self.policy, &request, &action, &resource, decision)))
            }
            None => self.inner.call(request),
        }
    }
}

/// `base` with every client built from it held to the role of the function built from `binary`.
pub fn function_sdk_config(
    base: &SdkConfig,
    template: &Template,
    binary: &str,
    env: &str,
) -> Result<SdkConfig, IamError> {
    let region = base
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());
    let policy = RolePolicy::for_binary(template, binary, &Stage::local(env, &region))?;
    Ok(base.to_builder().http_client(EnforcingHttpClient::new(policy)).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(policies: &str) -> Template {
        let text = format!(
            "Resources:
  MetaTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub \"meta${{Env}}\"
      KeySchema: [{{AttributeName: id, KeyType: HASH}}]
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {{BuildProperties: {{Binary: fn}}}}
    Properties:
      Policies:
{policies}
"
        );
        Template::parse(&text).expect("test template parses")
    }

    fn stage() -> Stage {
        Stage::local("dev", "us-east-1")
    }

    fn request(target: &str, body: Value) -> HttpRequest {
        let mut request = HttpRequest::new(SdkBody::from(body.to_string()));
        request.headers_mut().insert("x-amz-target", target.to_string());
        request
    }

    const META_ARN: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/metadev";

    #[test]
    fn wildcards_follow_iam() {
        assert!(wildcard_match("dynamodb:Get*", "dynamodb:GetItem"));
        assert!(wildcard_match("arn:*:table/x/index/*", "arn:a:table/x/index/i"));
        assert!(!wildcard_match("arn:*:table/x", "arn:a:table/x/index/i"));
        assert!(wildcard_match("a?c", "abc") && !wildcard_match("a?c", "ac"));
    }

    #[test]
    fn intrinsics_resolve_to_arns() {
        let t = template(
            "        - Statement:
            - Effect: Allow
              Action: [dynamodb:GetItem]
              Resource:
                - !GetAtt MetaTable.Arn
                - !Sub \"${MetaTable.Arn}/index/by-x\"
                - !Sub \"arn:aws:dynamodb:${AWS::Region}:${AWS::AccountId}:table/other${Env}\"",
        );
        let role = RolePolicy::for_binary(&t, "fn", &stage()).unwrap();
        assert_eq!(
            role.statements[0].resources,
            vec![
                META_ARN.to_string(),
                format!("{META_ARN}/index/by-x"),
                "arn:aws:dynamodb:us-east-1:000000000000:table/otherdev".to_string()
            ]
        );
    }

    #[test]
    fn a_missing_grant_is_an_implicit_deny_and_deny_wins() {
        let t = template(
            "        - Statement:
            - Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:Query]
              Resource: !GetAtt MetaTable.Arn
            - Effect: Deny
              Action: dynamodb:Query
              Resource: \"*\"",
        );
        let role = RolePolicy::for_binary(&t, "fn", &stage()).unwrap();
        assert_eq!(role.decide("dynamodb:GetItem", META_ARN), Decision::Allowed);
        assert_eq!(role.decide("dynamodb:PutItem", META_ARN), Decision::ImplicitDeny);
        assert_eq!(role.decide("dynamodb:Query", META_ARN), Decision::ExplicitDeny);
    }

    #[test]
    fn a_table_grant_does_not_cover_its_indexes() {
        let t = template(
            "        - Statement:
            - Effect: Allow
              Action: dynamodb:Query
              Resource: !GetAtt MetaTable.Arn",
        );
        let role = RolePolicy::for_binary(&t, "fn", &stage()).unwrap();
        let query = request(
            "DynamoDB_20120810.Query",
            serde_json::json!({"TableName": "metadev", "IndexName": "by-x"}),
        );
        let (action, resource, _) = role.first_denied(&query).expect("index query denied");
        assert_eq!(
            (action.as_str(), resource),
            ("dynamodb:Query", format!("{META_ARN}/index/by-x"))
        );
    }

    #[test]
    fn transactions_need_each_items_own_action() {
        let t = template(
            "        - Statement:
            - Effect: Allow
              Action: [dynamodb:PutItem]
              Resource: !GetAtt MetaTable.Arn",
        );
        let role = RolePolicy::for_binary(&t, "fn", &stage()).unwrap();
        let put_only = request(
            "DynamoDB_20120810.TransactWriteItems",
            serde_json::json!({"TransactItems": [{"Put": {"TableName": "metadev"}}]}),
        );
        assert_eq!(role.first_denied(&put_only), None);
        let with_update = request(
            "DynamoDB_20120810.TransactWriteItems",
            serde_json::json!({"TransactItems": [{"Put": {"TableName": "metadev"}}, {"Update": {"TableName": "metadev"}}]}),
        );
        assert_eq!(
            role.first_denied(&with_update).map(|d| d.0),
            Some("dynamodb:UpdateItem".to_string())
        );
        let batch = request(
            "DynamoDB_20120810.BatchGetItem",
            serde_json::json!({"RequestItems": {"metadev": {"Keys": []}}}),
        );
        assert_eq!(
            role.first_denied(&batch).map(|d| d.0),
            Some("dynamodb:BatchGetItem".to_string())
        );
    }

    #[test]
    fn stream_reads_are_judged_on_the_stream_they_name() {
        let t = template(
            "        - Statement:
            - Effect: Allow
              Action: [dynamodb:DescribeStream, dynamodb:GetRecords]
              Resource: !GetAtt MetaTable.StreamArn",
        );
        let role = RolePolicy::for_binary(&t, "fn", &stage()).unwrap();
        // DynamoDB Local names its own region and account; the grant is on the stage's.
        let local_arn = "arn:aws:dynamodb:ddblocal:000000000000:table/metadev/stream/2026-12-02T06:48:00.616";
        let describe = request(
            "DynamoDBStreams_20120810.DescribeStream",
            serde_json::json!({"StreamArn": local_arn}),
        );
        assert_eq!(role.first_denied(&describe), None);
        let records = request(
            "DynamoDBStreams_20120810.GetRecords",
            serde_json::json!({"ShardIterator": format!("{local_arn}|001|c2hhcmQ=")}),
        );
        assert_eq!(role.first_denied(&records), None);
        let iterator = request(
            "DynamoDBStreams_20120810.GetShardIterator",
            serde_json::json!({"StreamArn": local_arn}),
        );
        assert_eq!(
            role.first_denied(&iterator).map(|d| d.0),
            Some("dynamodb:GetShardIterator".to_string())
        );
        let other_table = request(
            "DynamoDBStreams_20120810.GetRecords",
            serde_json::json!({"ShardIterator": "arn:aws:dynamodb:ddblocal:000000000000:table/otherdev/stream/x|001|AA"}),
        );
        assert!(role.first_denied(&other_table).is_some());
    }

    #[test]
    fn unknown_services_and_policy_forms_are_refused() {
        let t = template("        - Statement: []");
        let role = RolePolicy::for_binary(&t, "fn", &stage()).unwrap();
        let mut other = HttpRequest::new(SdkBody::from("Action=SendEmail"));
        other
            .headers_mut()
            .insert("content-type", "application/x-www-form-urlencoded");
        assert!(role.first_denied(&other).is_some());
        let managed = template("        - AmazonDynamoDBFullAccess");
        assert!(RolePolicy::for_binary(&managed, "fn", &stage()).is_err());
    }
}
