//! Keeping a token out of the plans the server prints (issue 19, finding 5).
//!
//! A custom plan folds bind parameters into constants, so with
//! `debug_print_plan` (which any role may set for itself) or `auto_explain`
//! the plan of `tokens.verify($1)` printed the token at LOG. While a session
//! would print a plan, a statement that calls a function of the extension is
//! planned as a generic plan instead: its parameters stay `$1`, and only
//! their values at execution, never the plan, hold the token. Every other
//! statement is planned as before.
//!
//! The hook is installed when the library is loaded: from the start of
//! every session with `shared_preload_libraries`, as recommended; without
//! it, a session's first call is planned before the library is loaded.

use std::ffi::{c_void, CStr};
use std::ptr::null_mut;

use pgrx::pg_sys;

static mut PREVIOUS: pg_sys::planner_hook_type = None;

pub fn init() {
    // SAFETY: _PG_init runs once per process, before any planning.
    unsafe {
        PREVIOUS = pg_sys::planner_hook;
        pg_sys::planner_hook = Some(plan);
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn plan(
    parse: *mut pg_sys::Query,
    query_string: *const std::ffi::c_char,
    cursor_options: i32,
    bound_params: pg_sys::ParamListInfo,
) -> *mut pg_sys::PlannedStmt {
    let params = if !bound_params.is_null() && prints_plans() && calls_the_extension(parse) {
        null_mut()
    } else {
        bound_params
    };
    match PREVIOUS {
        Some(previous) => previous(parse, query_string, cursor_options, params),
        None => pg_sys::standard_planner(parse, query_string, cursor_options, params),
    }
}

/// Whether the plan being made may reach the server log: `debug_print_plan`,
/// or `auto_explain` logging plans (`log_min_duration` ≥ 0; it prints
/// constants in conditions, and with `log_verbose` in every output).
unsafe fn prints_plans() -> bool {
    if pg_sys::Debug_print_plan {
        return true;
    }
    let value = pg_sys::GetConfigOption(c"auto_explain.log_min_duration".as_ptr(), true, false);
    !value.is_null()
        && CStr::from_ptr(value)
            .to_str()
            .ok()
            .and_then(|v| v.trim_end_matches("ms").trim().parse::<i64>().ok())
            .is_some_and(|ms| ms >= 0)
}

/// Whether `parse` (its subqueries, CTEs and function scans included) calls
/// a function of the extension's schema.
unsafe fn calls_the_extension(parse: *mut pg_sys::Query) -> bool {
    let Some(mut schema) = crate::privilege::installed_schema() else {
        return false;
    };
    pg_sys::query_tree_walker(parse, Some(walker), (&raw mut schema).cast(), 0)
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn walker(node: *mut pg_sys::Node, context: *mut c_void) -> bool {
    if node.is_null() {
        return false;
    }
    let schema = *context.cast::<pg_sys::Oid>();
    match (*node).type_ {
        pg_sys::NodeTag::T_FuncExpr
            if pg_sys::get_func_namespace((*node.cast::<pg_sys::FuncExpr>()).funcid) == schema =>
        {
            return true;
        }
        pg_sys::NodeTag::T_Query => {
            return pg_sys::query_tree_walker(node.cast(), Some(walker), context, 0);
        }
        _ => {}
    }
    pg_sys::expression_tree_walker(node, Some(walker), context)
}
