//! Building the composite rows the API returns (`tokens.minted`,
//! `tokens.verification`).

use pgrx::heap_tuple::PgHeapTuple;
use pgrx::{AllocatedByRust, IntoDatum};

use crate::error::{internal, Result};

pub type Composite = PgHeapTuple<'static, AllocatedByRust>;

pub struct Row(Composite);

impl Row {
    pub fn new(type_name: &str) -> Result<Row> {
        PgHeapTuple::new_composite_type(type_name).map(Row).map_err(internal)
    }

    pub fn set<T: IntoDatum>(mut self, attribute: &str, value: T) -> Result<Row> {
        self.0.set_by_name(attribute, value).map_err(internal)?;
        Ok(self)
    }

    pub fn finish(self) -> Composite {
        self.0
    }
}
