//! A Kubernetes API test server for tkc's tests and benches: a real HTTP server on 127.0.0.1
//! that `kube::Client` and `kubectl` talk to, whose kubelet runs pods on this machine.
#![forbid(unsafe_code)]

mod admission;
mod selector;
mod status;
mod store;
mod time;
