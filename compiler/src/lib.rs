//! tkc compiler
