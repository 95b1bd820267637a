//! Writing the model back out: canonical YAML ([`yaml`]) and KDL ([`kdl`]).

pub mod kdl;
pub mod yaml;
