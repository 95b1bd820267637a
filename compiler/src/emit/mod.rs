//! Writing the model back out: canonical YAML ([`yaml`]) and KDL ([`kdl`]).

pub mod yaml;
