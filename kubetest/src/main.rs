//! `tkc-kubetest serve --kubeconfig FILE`: the API test server on its own.
fn main() {}
