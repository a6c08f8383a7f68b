//! The local stack: table bootstrap from `template.yaml`, and a gateway serving the template's
//! routes by calling the functions' handlers in-process.

pub mod apigw;
pub mod bootstrap;
pub mod eventbus;
pub mod functions;
pub mod gateway;
pub mod iam;
pub mod streams;
pub mod template;
