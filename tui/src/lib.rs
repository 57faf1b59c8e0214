//! tokens-console: the pg_tokens terminal console and scriptable CLI.
//!
//! `app` holds the state and `update` (no I/O), `event` maps keys to
//! actions, `components` draw, `db` runs the SQL API on a worker thread.

pub mod action;
pub mod app;
pub mod checkpoints;
pub mod cli;
pub mod components;
pub mod conn;
pub mod db;
pub mod event;
pub mod input;
pub mod parse;
pub mod run;
pub mod terminal;
pub mod text;
pub mod ui;
